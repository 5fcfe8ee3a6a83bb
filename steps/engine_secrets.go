package steps

import (
	"strings"
	"sync"
)

// Secrets remembers values that must never reach a log, a record, the state or
// the screen (sudo password, join tokens, generated passwords), and blanks them out.
type Secrets struct {
	mu     sync.RWMutex
	values []string
}

// shortSecret is the length under which a secret is only redacted where it
// stands as a word of its own. Every value is registered, whatever its
// length (a 3-letter sudo password is still a password), but blanking every
// "abc" inside "abcdef" or every lone letter "a" in every line would make
// the output unreadable, and the pattern of the blanks would itself spell the
// secret out. A short secret that leaks does so as a word of its own
// ("sh: 1: abc: not found", "password=abc"), and that is redacted.
const shortSecret = 6

// Add registers a secret; only the empty value is ignored.
func (s *Secrets) Add(v string) {
	if s == nil || v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.values {
		if x == v {
			return
		}
	}
	s.values = append(s.values, v)
}

// Redact replaces every registered secret in text.
func (s *Secrets) Redact(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		if !strings.Contains(text, v) {
			continue
		}
		if len(v) >= shortSecret {
			text = strings.ReplaceAll(text, v, "[redacted]")
		} else {
			text = redactWord(text, v)
		}
	}
	return text
}

// redactWord replaces v where no letter or digit touches it on either side.
func redactWord(text, v string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, v)
		if i < 0 {
			break
		}
		end := i + len(v)
		if (i > 0 && isWordByte(text[i-1]) && isWordByte(v[0])) || (end < len(text) && isWordByte(text[end]) && isWordByte(v[len(v)-1])) {
			b.WriteString(text[:i+1])
			text = text[i+1:]
			continue
		}
		b.WriteString(text[:i])
		b.WriteString("[redacted]")
		text = text[end:]
	}
	b.WriteString(text)
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// RedactChecks blanks secrets in check reasons and fixes, which are printed
// and stored in the state (a reason often quotes what a host said).
func (s *Secrets) RedactChecks(checks []HostCheck) []HostCheck {
	for i := range checks {
		checks[i].Reason = s.Redact(checks[i].Reason)
		checks[i].Fix = s.Redact(checks[i].Fix)
	}
	return checks
}

// RedactErr blanks secrets in an error on its way to the operator: its text,
// and each *StepError inside (the UI prints a StepError's fields one by one),
// whose Err keeps its chain for errors.Is and errors.As.
func (s *Secrets) RedactErr(err error) error {
	if s == nil || err == nil {
		return err
	}
	var walk func(error)
	walk = func(e error) {
		switch u := e.(type) {
		case *StepError:
			// Fields change only when they hold a secret: an error already
			// redacted (and maybe shown by the UI meanwhile) is not written again.
			if inner := u.Err; inner != nil {
				walk(inner)
				if w := s.wrap(inner); w != inner {
					u.Err = w
				}
			}
			if r := s.Redact(u.Command); r != u.Command {
				u.Command = r
			}
			if r := s.Redact(u.Next); r != u.Next {
				u.Next = r
			}
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := u.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	walk(err)
	return s.wrap(err)
}

func (s *Secrets) wrap(err error) error {
	if msg := s.Redact(err.Error()); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

// redactedError shows the redacted text and unwraps to the original error.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
