package steps

import (
	"reflect"

	"aginstall/internal/hosttext"
)

// Text from hosts (their output, facts, git config, Docker's messages) is
// hostile: it can hold escape sequences that rewrite the operator's screen or
// clipboard, and progress redrawn with carriage returns. remote replays every
// line of output as a terminal shows it (hosttext.Clean) as it arrives; what
// steps build from raw bytes (a check's reason quoting remote.origin.url, an
// error quoting a daemon) has its control characters shown escaped
// (hosttext.Escape: a carriage return in a value must not rewrite the message
// around it) here, where it leaves the steps: every event passes
// Runner.emit, every record Runner.record, every check the engine, every
// error the engine's returns. Both are idempotent: twice is harmless.

// cleanEvent cleans the text fields of an event.
func cleanEvent(e Event) Event {
	switch e := e.(type) {
	case CommandStarted:
		e.Purpose, e.Command = hosttext.Escape(e.Purpose), hosttext.Escape(e.Command)
		return e
	case HostOutput:
		e.Text = hosttext.Escape(e.Text)
		return e
	case HostProgress:
		e.Purpose = hosttext.Escape(e.Purpose)
		return e
	case HostFinished:
		e.Reason, e.Err = hosttext.Escape(e.Reason), cleanError(e.Err)
		return e
	case StepFinished:
		e.Checks, e.Err = cleanChecks(e.Checks), cleanError(e.Err)
		return e
	}
	return e
}

// cleanChecks returns checks with their reasons and fixes cleaned.
func cleanChecks(checks []HostCheck) []HostCheck {
	if checks == nil {
		return nil
	}
	out := make([]HostCheck, len(checks))
	for i, c := range checks {
		c.Reason, c.Fix = hosttext.Escape(c.Reason), hosttext.Escape(c.Fix)
		out[i] = c
	}
	return out
}

// cleanError wraps err so that its text is cleaned; errors.Is and errors.As
// still see what it wraps. (A *StepError found by errors.As holds the raw
// parts: whoever prints them one by one cleans them, as ui's failureText does.)
func cleanError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(cleanedError); ok {
		return err
	}
	return cleanedError{err}
}

type cleanedError struct{ err error }

func (e cleanedError) Error() string { return hosttext.Escape(e.err.Error()) }
func (e cleanedError) Unwrap() error { return e.err }

// cleanFacts escapes the control characters of every text discovery read
// from a host (PRETTY_NAME, hostname, kernel, …): facts are shown by the
// wizard and kept in the state without passing any event. Every string, in
// the struct and its slices, is done by reflection, so a new field cannot be
// forgotten. (Which facts are valid is for discovery's parser to say.)
func cleanFacts(f *Facts) {
	if f != nil {
		escapeStrings(reflect.ValueOf(f).Elem())
	}
}

func escapeStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(hosttext.Escape(v.String()))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			escapeStrings(v.Field(i))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			escapeStrings(v.Index(i))
		}
	}
}
