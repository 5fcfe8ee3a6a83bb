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

// Add registers a secret; short values are ignored so common words are not blanked.
func (s *Secrets) Add(v string) {
	if s == nil || len(v) < 6 {
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
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, "[redacted]")
		}
	}
	return text
}
