package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	udiff "github.com/aymanbagabas/go-udiff"

	"aginstall/remote"
	"aginstall/steps/edit"
)

// limitsStep raises the open-file limits as the guide asks: grading workers
// run many processes and hit the default limit in hard-to-debug ways.
type limitsStep struct{}

func init() { register(OrderLimits, limitsStep{}) }

const limitsPath = "/etc/security/limits.conf"

func (limitsStep) ID() string                { return "limits" }
func (limitsStep) Title() string             { return "Raise open-file limits" }
func (limitsStep) Hosts(c *Cluster) []string { return AllHosts(c) }

func (s limitsStep) Check(ctx context.Context, env *Env) []HostCheck {
	return checkEachHost(ctx, env, s.ID(), s.Hosts(env.Cluster), func(ctx context.Context, h *HostRunner) HostCheck {
		old, ok := limitsConf(ctx, env, h.Host) // read by this review's discovery
		var err error
		if !ok {
			old, err = h.ReadFile(ctx, "read the limits", limitsPath, false)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return HostCheck{Status: Unknown, Reason: err.Error()}
		}
		if nw := edit.Limits(old); string(nw) != string(old) {
			return HostCheck{Status: notDoneStatus(env, s.ID()), Reason: limitsPath + " lacks the lines: " + changedLines(old, nw),
				Fix: "aginstall apply sets them"}
		}
		return HostCheck{Status: Done, Reason: "nofile 1000000 soft and hard for *"}
	})
}

func (s limitsStep) Apply(ctx context.Context, env *Env) error {
	return env.Each(ctx, s.ID(), s.Hosts(env.Cluster), func(ctx context.Context, h *HostRunner) error {
		old, err := h.ReadFile(ctx, "read the limits", limitsPath, false)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		nw := edit.Limits(old)
		_, err = h.WriteFile(ctx, "set nofile limits", limitsPath, old, nw,
			remote.WriteOptions{Sudo: true, Backup: true}, fileDiff(limitsPath, old, nw))
		return err
	})
}

// fileDiff is the unified diff a plan shows for a file.
func fileDiff(path string, old, nw []byte) string {
	if string(old) == string(nw) {
		return ""
	}
	return udiff.Unified("a"+path, "b"+path, string(old), string(nw))
}

// changedLines names the lines that an edit adds, for a check's reason.
func changedLines(old, nw []byte) string {
	had := map[string]bool{}
	for _, l := range strings.Split(string(old), "\n") {
		had[l] = true
	}
	var add []string
	for _, l := range strings.Split(string(nw), "\n") {
		if !had[l] && l != "" {
			add = append(add, fmt.Sprintf("%q", l))
		}
	}
	return strings.Join(add, ", ")
}

// notDoneStatus is Drifted when the step was done in an earlier run, else Todo.
func notDoneStatus(env *Env, step string) Status {
	if st := env.State.Get(step); st != nil && st.Status == Done {
		return Drifted
	}
	return Todo
}

// checkEachHost runs a read-only per-host check in parallel and returns
// the verdicts in host order; a host whose check cannot run is Unknown.
func checkEachHost(ctx context.Context, env *Env, step string, hosts []string, fn func(ctx context.Context, h *HostRunner) HostCheck) []HostCheck {
	out := make([]HostCheck, len(hosts))
	limit := env.Limit
	if limit <= 0 {
		limit = 8
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, host := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			hc := fn(ctx, env.On(step, host))
			hc.Host = host
			out[i] = hc
			env.Runner.emit(HostChecked{Step: step, Host: host})
		}()
	}
	wg.Wait()
	return out
}
