package ui

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"
)

// Run starts the wizard and returns when the operator quits. Cancelling ctx
// stops the program and the Backend's work.
func Run(ctx context.Context, opt Options) error {
	if opt.Backend == nil {
		return errors.New("ui.Run: no Backend")
	}
	m := newModel(opt)
	m.cancel()
	m.ctx, m.cancel = context.WithCancel(ctx)
	defer m.cancel()
	p := tea.NewProgram(m, tea.WithContext(ctx))
	m.q.setWake(wakeAfterFrame(p.Send))
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil && m.interrupted {
		return ErrInterrupted
	}
	return err
}

// ErrInterrupted: the operator quit while work ran on the hosts; the step in
// progress was cancelled (its checks find where it stopped on the next run).
var ErrInterrupted = errors.New("quit while a step was running; run aginstall again and choose Resume")
