package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"aginstall/internal/hosttext"
	"aginstall/steps"
)

// printer turns steps' events into plain `host | step | message` lines for runs
// without a terminal UI. It never colours (NO_COLOR needs nothing here).
type printer struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
}

func newPrinter(w io.Writer, verbose bool) *printer { return &printer{w: w, verbose: verbose} }

func (p *printer) line(host, step, format string, a ...any) {
	if host == "" {
		host = "-"
	}
	// Events arrive cleaned (steps.Runner.emit); this is the last door
	// before the terminal, so it escapes controls again (idempotent, cheap on plain text).
	msg := hosttext.Escape(fmt.Sprintf(format, a...))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range strings.Split(msg, "\n") {
		fmt.Fprintf(p.w, "%s | %s | %s\n", host, step, l)
	}
}

func (p *printer) sink(e steps.Event) {
	switch e := e.(type) {
	case steps.StepStarted:
		if p.verbose {
			p.line("", e.Step, "%s: %s", e.Title, e.Mode)
		}
	case steps.CommandStarted:
		if e.Mutating && !e.DryRun {
			p.line(e.Host, e.Step, "%s: %s", e.Purpose, e.Command)
		}
	case steps.HostOutput:
		if p.verbose && e.Stream == "stderr" {
			p.line(e.Host, e.Step, "%s", e.Text)
		}
	case steps.HostProgress:
		if p.verbose {
			p.line(e.Host, e.Step, "%s", e.Purpose)
		}
	case steps.HostFinished:
		if e.Err != nil && e.Status == steps.Failed {
			p.line(e.Host, e.Step, "failed: %v", e.Err)
		}
	case steps.StepFinished:
		if !p.verbose {
			return
		}
		if e.Err != nil {
			p.line("", e.Step, "failed after %s", e.Duration.Round(1e7))
			return
		}
		if len(e.Checks) > 0 {
			p.line("", e.Step, "%s (%s)", steps.Summary(e.Checks), e.Duration.Round(1e7))
		}
	}
}
