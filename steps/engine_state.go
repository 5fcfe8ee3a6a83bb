package steps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/renameio/v2"
)

// State remembers progress between runs. It is a record, not the truth: before
// resuming, the checks re-read the hosts and win.
type State struct {
	Version int                   `json:"version"`
	Cluster string                `json:"cluster"`
	Updated time.Time             `json:"updated"`
	Steps   map[string]*StepState `json:"steps"`
	Facts   map[string]*Facts     `json:"facts,omitempty"`
	// PortProbe is the last swarm-port probe that found every port open: it
	// starts a listener on the manager and a sender on every host, the
	// slowest part of a review, so a clean result is not probed again for a day.
	PortProbe *time.Time `json:"port_probe_clean,omitempty"`
	// DjangoSchema is what the running django image holds that the checks
	// read the database with (django_rows.go): the image's, never the rows.
	DjangoSchema *DjangoSchema `json:"django_schema,omitempty"`

	path string
	mu   sync.Mutex
}

// StepState is one step's last known outcome.
type StepState struct {
	Status      Status               `json:"status"`
	Time        time.Time            `json:"time"`
	Fingerprint string               `json:"fingerprint,omitempty"`
	SkipReason  string               `json:"skip_reason,omitempty"`
	Hosts       map[string]HostCheck `json:"hosts,omitempty"`
}

// StatePath is .aginstall/<name>.state.json beside the cluster file.
func StatePath(c *Cluster) string {
	return filepath.Join(c.StateDir(), c.Name+".state.json")
}

// LoadState reads the state file, or starts an empty one.
func LoadState(c *Cluster) (*State, error) {
	p := StatePath(c)
	s := &State{Version: 1, Cluster: c.Name, Steps: map[string]*StepState{}, Facts: map[string]*Facts{}, path: p}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%s: the state file does not parse (%v); move it away to start over, the checks will find what is already done", p, err)
	}
	if s.Steps == nil {
		s.Steps = map[string]*StepState{}
	}
	if s.Facts == nil {
		s.Facts = map[string]*Facts{}
	}
	s.path = p
	return s, nil
}

// Exists reports whether a state file was found (to offer a resume).
func (s *State) Exists() bool {
	_, err := os.Stat(s.path)
	return err == nil
}

// Set records a step's outcome and saves.
func (s *State) Set(id string, st *StepState) error {
	s.mu.Lock()
	s.Steps[id] = st
	s.mu.Unlock()
	return s.Save()
}

// Get returns a step's recorded outcome, or nil.
func (s *State) Get(id string) *StepState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Steps[id]
}

// SetFacts records what discovery found on a host, its texts escaped
// (hosttext.go: the wizard shows them).
func (s *State) SetFacts(host string, f *Facts) {
	cleanFacts(f)
	s.mu.Lock()
	s.Facts[host] = f
	s.mu.Unlock()
}

// PortProbeClean reports whether the swarm ports were all found open within d.
func (s *State) PortProbeClean(d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.PortProbe != nil && time.Since(*s.PortProbe) < d
}

// SetPortProbe records the outcome of a swarm-port probe.
func (s *State) SetPortProbe(clean bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !clean {
		s.PortProbe = nil
		return
	}
	now := time.Now().UTC()
	s.PortProbe = &now
}

// FactsOf returns the discovered facts of a host, or nil.
func (s *State) FactsOf(host string) *Facts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Facts[host]
}

// Save writes the file atomically (temp file, fsync, rename) with mode 0600,
// so a kill at any moment leaves either the old or the new file.
func (s *State) Save() error {
	if s.path == "" {
		return nil
	}
	s.mu.Lock()
	s.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(s, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	return renameio.WriteFile(s.path, append(data, '\n'), 0o600)
}

// Fingerprint hashes a step's inputs; a change marks the step to redo.
func Fingerprint(v any) string {
	if v == nil {
		return ""
	}
	data, _ := json.Marshal(v)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// DjangoSchemaFor is the remembered schema of a django image, or nil when
// none is remembered for that image and database environment.
func (s *State) DjangoSchemaFor(image, dbEnv string) *DjangoSchema {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc := s.DjangoSchema; sc != nil && image != "" && sc.Image == image && sc.Env == dbEnv {
		return sc
	}
	return nil
}

// SetDjangoSchema remembers the schema of the running django image (one
// image: a new one replaces it), saved with the rest of the state.
func (s *State) SetDjangoSchema(sc *DjangoSchema) {
	s.mu.Lock()
	s.DjangoSchema = sc
	s.mu.Unlock()
}
