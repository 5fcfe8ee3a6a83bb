package steps

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"aginstall/internal/hosttext"
)

// Log is the full-detail run log: every command, its exit code and its output,
// with secrets redacted. Its path is printed when a run fails.
type Log struct {
	Path    string
	secrets *Secrets
	mu      sync.Mutex
	f       *os.File
}

// OpenLog creates .aginstall/logs/<name>-<time>.log with mode 0600.
func OpenLog(dir, name string, secrets *Secrets) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%s.log", name, time.Now().UTC().Format("20060102T150405Z")))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &Log{Path: p, f: f, secrets: secrets}, nil
}

func (l *Log) printf(format string, a ...any) {
	if l == nil || l.f == nil {
		return
	}
	line := l.secrets.Redact(hosttext.Escape(fmt.Sprintf(format, a...)))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "%s %s\n", time.Now().UTC().Format("15:04:05.000"), line)
}

// Record logs one runner record.
func (l *Log) Record(r Record) {
	state := fmt.Sprintf("exit=%d", r.Exit)
	if r.DryRun {
		state = "planned"
	}
	mut := "read"
	if r.Mutating {
		mut = "change"
	}
	l.printf("%s | %s | %s %s: %s [%s %s]", r.Host, r.Step, mut, r.Kind, r.Command, state, r.Duration.Round(time.Millisecond))
	if r.Error != "" {
		l.printf("%s | %s | error: %s", r.Host, r.Step, r.Error)
	}
	if r.Diff != "" {
		l.printf("%s | %s | diff:\n%s", r.Host, r.Step, r.Diff)
	}
}

// Output logs one line a host printed.
func (l *Log) Output(step, host, stream, text string) {
	l.printf("%s | %s | %s: %s", host, step, stream, text)
}

// Note logs a free-form line.
func (l *Log) Note(format string, a ...any) { l.printf(format, a...) }

// Close flushes and closes the file.
func (l *Log) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
