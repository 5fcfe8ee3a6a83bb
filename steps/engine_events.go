package steps

import "time"

// Event is what steps report while they work. The TUI and the plain printer both
// consume the same events, so neither needs to know how the work is done.
type Event interface{ isEvent() }

// StepStarted: a step begins (in check, plan or apply mode).
type StepStarted struct {
	Step, Title, Mode string
	Hosts             []string
}

// CommandStarted: the runner is about to run (or, in a dry run, record) a command.
type CommandStarted struct {
	Step, Host, Purpose, Command string
	Mutating, DryRun             bool
}

// HostOutput is one line a host printed.
type HostOutput struct {
	Step, Host, Stream, Text string
}

// HostProgress: a host moved on to a new piece of work within a step.
type HostProgress struct {
	Step, Host, Purpose string
	Done, Total         int
}

// HostFinished: a host's part of a step ended.
type HostFinished struct {
	Step, Host string
	Status     Status
	Reason     string
	Err        error
}

// HostChecked: a host's check in a step has its answer (the step's
// StepFinished carries every host's verdict). It lets a screen name the
// hosts a check still waits for.
type HostChecked struct {
	Step, Host string
}

// StepFinished: a step ended, with every host's check.
type StepFinished struct {
	Step     string
	Checks   []HostCheck
	Err      error
	Duration time.Duration
}

func (StepStarted) isEvent()    {}
func (CommandStarted) isEvent() {}
func (HostOutput) isEvent()     {}
func (HostProgress) isEvent()   {}
func (HostFinished) isEvent()   {}
func (HostChecked) isEvent()    {}
func (StepFinished) isEvent()   {}

// Sink receives events. It must not block for long: the TUI's sink forwards to
// the program's message queue.
type Sink func(Event)
