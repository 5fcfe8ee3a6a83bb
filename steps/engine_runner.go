package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"aginstall/internal/hosttext"
	"aginstall/remote"
)

// Conn is what the runner needs of a host connection; *remote.Conn has it.
// Unit tests of pure step logic may pass a fake.
type Conn interface {
	Run(ctx context.Context, cmd remote.Command, out func(remote.Line)) (remote.Result, error)
	ReadFile(ctx context.Context, path string, sudo bool) ([]byte, error)
	WriteFile(ctx context.Context, path string, data []byte, opt remote.WriteOptions) (string, error)
	Docker(ctx context.Context) (*client.Client, error)
}

// Dialer hands out one connection per host.
type Dialer interface {
	Conn(ctx context.Context, host string) (Conn, error)
}

// Record is one entry of what the runner did or, in a dry run, would do. The
// plan, the log and the review are all made from records.
type Record struct {
	Time     time.Time     `json:"time"`
	Step     string        `json:"step"`
	Host     string        `json:"host"`
	Purpose  string        `json:"purpose"`
	Kind     string        `json:"kind"` // cmd | api | file
	Command  string        `json:"command"`
	Diff     string        `json:"diff,omitempty"`
	Mutating bool          `json:"mutating"`
	DryRun   bool          `json:"dry_run"`
	Exit     int           `json:"exit"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Runner is the one door every remote action goes through. In a dry run it
// runs read-only actions (so the plan sees the hosts as they are) and only
// records mutating ones.
type Runner struct {
	DryRun  bool
	Dial    Dialer
	Sink    Sink
	Log     *Log
	Secrets *Secrets

	mu      sync.Mutex
	records []Record
}

// ErrDryRun is returned to a step that asks for the result of a mutating
// action during a dry run; steps treat it as "would be done".
var ErrDryRun = errors.New("not run: dry run")

// Records returns a copy of everything recorded so far.
func (r *Runner) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

// Mutations returns the mutating records (run or planned).
func (r *Runner) Mutations() []Record {
	var out []Record
	for _, rec := range r.Records() {
		if rec.Mutating {
			out = append(out, rec)
		}
	}
	return out
}

// emit passes an event on, its host text cleaned (see hosttext.go): every
// event of every step goes through here.
func (r *Runner) emit(e Event) {
	if r.Sink != nil {
		r.Sink(cleanEvent(e))
	}
}

// record keeps a record, cleaned and redacted: the plan, the JSON plan and
// the log are made of records (a diff shows a host's file as it was).
func (r *Runner) record(rec Record) {
	rec.Command = r.Secrets.Redact(hosttext.Escape(rec.Command))
	rec.Diff = r.Secrets.Redact(hosttext.Escape(rec.Diff))
	rec.Error = r.Secrets.Redact(hosttext.Escape(rec.Error))
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	r.Log.Record(rec)
}

// On scopes the runner to one step and host.
func (r *Runner) On(step, host string) *HostRunner {
	return &HostRunner{r: r, Step: step, Host: host}
}

// HostRunner runs one step's actions on one host.
type HostRunner struct {
	r          *Runner
	Step, Host string
}

// DryRun reports whether mutating actions are only recorded.
func (h *HostRunner) DryRun() bool { return h.r.DryRun }

func (h *HostRunner) conn(ctx context.Context) (Conn, error) {
	if h.r.Dial == nil {
		return nil, fmt.Errorf("%s: no connection to hosts in this mode", h.Host)
	}
	return h.r.Dial.Conn(ctx, h.Host)
}

// Query runs a read-only command, in every mode.
func (h *HostRunner) Query(ctx context.Context, purpose string, cmd remote.Command) (remote.Result, error) {
	return h.exec(ctx, purpose, cmd, false)
}

// Run runs a mutating command; in a dry run it is recorded and ErrDryRun returned.
func (h *HostRunner) Run(ctx context.Context, purpose string, cmd remote.Command) (remote.Result, error) {
	return h.exec(ctx, purpose, cmd, true)
}

func (h *HostRunner) exec(ctx context.Context, purpose string, cmd remote.Command, mutating bool) (remote.Result, error) {
	shown := cmd.Line
	if cmd.Sudo {
		shown = sudoShown(shown)
	}
	rec := Record{Time: time.Now(), Step: h.Step, Host: h.Host, Purpose: purpose, Kind: "cmd", Command: shown, Mutating: mutating}
	h.r.emit(CommandStarted{Step: h.Step, Host: h.Host, Purpose: purpose, Command: h.r.Secrets.Redact(shown), Mutating: mutating, DryRun: mutating && h.r.DryRun})
	if mutating && h.r.DryRun {
		rec.DryRun = true
		h.r.record(rec)
		return remote.Result{}, ErrDryRun
	}
	c, err := h.conn(ctx)
	if err != nil {
		rec.Exit, rec.Error = -1, err.Error()
		h.r.record(rec)
		return remote.Result{}, err
	}
	res, err := c.Run(ctx, cmd, func(l remote.Line) {
		text := carriedShown(l.Text)
		h.r.emit(HostOutput{Step: h.Step, Host: h.Host, Stream: l.Stream, Text: h.r.Secrets.Redact(text)})
		h.r.Log.Output(h.Step, h.Host, l.Stream, text)
	})
	if mutating {
		hostChanged(c)
	}
	rec.Duration = time.Since(rec.Time)
	rec.Exit = res.ExitCode
	if err != nil {
		rec.Error = err.Error()
		if rec.Exit == 0 {
			rec.Exit = -1
		}
	}
	h.r.record(rec)
	if err != nil {
		return res, &StepError{Step: h.Step, Host: h.Host, Purpose: purpose, Command: h.r.Secrets.Redact(shown), Err: err}
	}
	return res, nil
}

// hostChanged tells the connection that something changed on its host
// (a package, a group, a service, a file), so what it learnt about reaching
// Docker there without success no longer holds.
func hostChanged(c Conn) {
	if f, ok := c.(interface{ ForgetDocker() }); ok {
		f.ForgetDocker()
	}
}

// ReadFile reads a remote file (read-only in every mode).
func (h *HostRunner) ReadFile(ctx context.Context, purpose, path string, sudo bool) ([]byte, error) {
	rec := Record{Time: time.Now(), Step: h.Step, Host: h.Host, Purpose: purpose, Kind: "file", Command: "read " + path}
	c, err := h.conn(ctx)
	if err == nil {
		var data []byte
		data, err = c.ReadFile(ctx, path, sudo)
		rec.Duration = time.Since(rec.Time)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			rec.Error = err.Error()
		}
		h.r.record(rec)
		return data, err
	}
	rec.Error = err.Error()
	h.r.record(rec)
	return nil, err
}

// ReadFiles reads several remote files in one session where the
// connection can (with a sudo password, every session is a password check
// on the host), else one by one. Missing files are absent from the map.
// One record names them all.
func (h *HostRunner) ReadFiles(ctx context.Context, purpose string, paths []string, sudo bool) (map[string][]byte, error) {
	rec := Record{Time: time.Now(), Step: h.Step, Host: h.Host, Purpose: purpose, Kind: "file", Command: "read " + strings.Join(paths, ", ")}
	c, err := h.conn(ctx)
	var files map[string][]byte
	if err == nil {
		files, err = readFiles(ctx, c, paths, sudo)
		rec.Duration = time.Since(rec.Time)
	}
	if err != nil {
		rec.Error = err.Error()
	}
	h.r.record(rec)
	return files, err
}

func readFiles(ctx context.Context, c Conn, paths []string, sudo bool) (map[string][]byte, error) {
	if m, ok := c.(interface {
		ReadFiles(context.Context, []string, bool) (map[string][]byte, error)
	}); ok {
		return m.ReadFiles(ctx, paths, sudo)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		data, err := c.ReadFile(ctx, p, sudo)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		files[p] = data
	}
	return files, nil
}

// WriteFile replaces a remote file atomically, keeping a backup, when its
// content differs; the record carries the diff. It returns whether it wrote.
func (h *HostRunner) WriteFile(ctx context.Context, purpose, path string, old, new []byte, opt remote.WriteOptions, diff string) (bool, error) {
	if string(old) == string(new) {
		return false, nil
	}
	rec := Record{Time: time.Now(), Step: h.Step, Host: h.Host, Purpose: purpose, Kind: "file", Command: fmt.Sprintf("write %s (atomic, backup kept)", path), Diff: diff, Mutating: true}
	h.r.emit(CommandStarted{Step: h.Step, Host: h.Host, Purpose: purpose, Command: rec.Command, Mutating: true, DryRun: h.r.DryRun})
	if h.r.DryRun {
		rec.DryRun = true
		h.r.record(rec)
		return true, nil
	}
	c, err := h.conn(ctx)
	if err == nil {
		var backup string
		backup, err = c.WriteFile(ctx, path, new, opt)
		hostChanged(c)
		if backup != "" {
			rec.Command += "; old content kept at " + backup
		}
	}
	rec.Duration = time.Since(rec.Time)
	if err != nil {
		rec.Error = err.Error()
		h.r.record(rec)
		return false, &StepError{Step: h.Step, Host: h.Host, Purpose: purpose, Command: rec.Command, Err: err}
	}
	h.r.record(rec)
	return true, nil
}

// API calls the Docker engine of this host. call describes the exact call for
// the record (secrets redacted). Mutating calls are only recorded in a dry run.
func (h *HostRunner) API(ctx context.Context, purpose, call string, mutating bool, fn func(ctx context.Context, c *client.Client) error) error {
	rec := Record{Time: time.Now(), Step: h.Step, Host: h.Host, Purpose: purpose, Kind: "api", Command: call, Mutating: mutating}
	h.r.emit(CommandStarted{Step: h.Step, Host: h.Host, Purpose: purpose, Command: h.r.Secrets.Redact(call), Mutating: mutating, DryRun: mutating && h.r.DryRun})
	if mutating && h.r.DryRun {
		rec.DryRun = true
		h.r.record(rec)
		return ErrDryRun
	}
	c, err := h.conn(ctx)
	var dc *client.Client
	if err == nil {
		dc, err = c.Docker(ctx)
	}
	if err == nil {
		// Closing matters: over sudo each client holds an SSH session
		// (docker system dial-stdio), and sshd allows 10 per connection.
		err = fn(ctx, dc)
		dc.Close()
	}
	rec.Duration = time.Since(rec.Time)
	if err != nil {
		rec.Error = err.Error()
		h.r.record(rec)
		return &StepError{Step: h.Step, Host: h.Host, Purpose: purpose, Command: h.r.Secrets.Redact(call), Err: err}
	}
	h.r.record(rec)
	return nil
}

// Progress tells the UI what this host is doing now.
func (h *HostRunner) Progress(purpose string, done, total int) {
	h.r.emit(HostProgress{Step: h.Step, Host: h.Host, Purpose: purpose, Done: done, Total: total})
}

// Note is a line of aginstall's own in this host's output (the pane, the
// log): what it does next and why.
func (h *HostRunner) Note(text string) {
	h.r.emit(HostOutput{Step: h.Step, Host: h.Host, Stream: "stdout", Text: h.r.Secrets.Redact(text)})
	h.r.Log.Output(h.Step, h.Host, "stdout", text)
}

// StepError names the host, the step, the command and what the host said.
type StepError struct {
	Step, Host, Purpose, Command string
	Err                          error
	Next                         string // what to do next, when the step knows better than the generic advice
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: step %s: %s failed", e.Host, e.Step, e.Purpose)
	if e.Command != "" {
		fmt.Fprintf(&b, "\n  command: %s", e.Command)
	}
	fmt.Fprintf(&b, "\n  host said: %v", e.Err)
	next := e.Next
	if next == "" {
		next = "fix the cause on the host, then run `aginstall apply` again (finished work is not repeated)"
	}
	fmt.Fprintf(&b, "\n  next: %s", next)
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// sudoShown is how a command run as root is shown in the plan and the log.
// remote runs every sudo command as `sh -c LINE`; a plain "sudo " prefix
// reads right for a simple command, but "sudo cd DIR && make" would read as
// if only the cd ran as root (and fail if pasted), so a line with shell
// syntax is shown as what runs: sudo sh -c 'LINE'.
func sudoShown(line string) string {
	if strings.ContainsAny(line, "&|;<>`\n") || strings.Contains(line, "$(") {
		return "sudo sh -c " + remote.Quote(line)
	}
	return "sudo " + line
}
