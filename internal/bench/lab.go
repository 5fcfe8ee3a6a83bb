// Package bench holds the helpers testdata/bench/run builds: the lab's host
// list and small statistics. The programs are in fanout/, reviewprof/ and
// uiflood/.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"aginstall/remote"
)

// Lab is the part of testdata/lab/out/lab.json the bench needs.
type Lab struct {
	Key        string `json:"key"`
	KnownHosts string `json:"known_hosts"`
	Kind       string `json:"kind"`
	Hosts      []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
		Key     string `json:"host_key_fingerprint"`
	} `json:"hosts"`
}

// LoadLab reads lab.json.
func LoadLab(path string) (*Lab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s (is the lab up? testdata/lab/up): %w", path, err)
	}
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(l.Hosts) == 0 {
		return nil, fmt.Errorf("%s lists no hosts", path)
	}
	return &l, nil
}

// Targets are the lab's hosts as root with the lab key, pinned host keys.
func (l *Lab) Targets() []remote.Target {
	var ts []remote.Target
	for _, h := range l.Hosts {
		ts = append(ts, remote.Target{Name: h.Name, Address: h.Address, Port: 22, User: "root", Identity: l.Key, HostKey: h.Key})
	}
	return ts
}

// Median of ds (0 for none).
func Median(ds []time.Duration) time.Duration { return Percentile(ds, 50) }

// Percentile p (0..100) of ds by nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p/100*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}
