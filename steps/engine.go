package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Env is what every step works with.
type Env struct {
	Cluster *Cluster
	Runner  *Runner
	State   *State
	Secrets *Secrets
	// Limit bounds per-host parallelism within a step.
	Limit int
	// Confirm asks the operator a yes/no question that a step cannot decide
	// alone (making a host leave another swarm). nil means no: refuse.
	Confirm func(question string) bool
	// AllowDataMove is the operator's consent to changes that leave data
	// behind or convert it (see consent.go): --allow-data-move, or the
	// label names typed in the wizard. Without it such changes are refused.
	AllowDataMove bool
	// Extra carries values the operator gave at run time that are not in the
	// cluster file (e.g. relabel's wanted labels); keyed by step ID.
	Extra map[string]any

	review *reviewMemo // set only while Review runs
}

// On scopes the runner to a step and host.
func (e *Env) On(step, host string) *HostRunner { return e.Runner.On(step, host) }

// Each runs fn for every host in parallel (at most Limit at once). A failure on
// one host does not stop the others mid-way; all errors come back together.
func (e *Env) Each(ctx context.Context, step string, hosts []string, fn func(ctx context.Context, h *HostRunner) error) error {
	limit := e.Limit
	if limit <= 0 {
		limit = 8
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs HostErrors
	for _, host := range hosts {
		wg.Add(1)
		go func(host string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			h := e.On(step, host)
			err := fn(ctx, h)
			err = e.Secrets.RedactErr(err)
			st, reason := Done, "ok"
			if err != nil && !errors.Is(err, ErrDryRun) {
				st, reason = Failed, err.Error()
				mu.Lock()
				errs = append(errs, HostError{Host: host, Err: err})
				mu.Unlock()
			}
			e.Runner.emit(HostFinished{Step: step, Host: host, Status: st, Reason: reason, Err: err})
		}(host)
	}
	wg.Wait()
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Host < errs[j].Host })
	return errs
}

// HostError is one host's failure within a step.
type HostError struct {
	Host string
	Err  error
}

// HostErrors collects the failures of several hosts.
type HostErrors []HostError

func (es HostErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		msg := e.Err.Error()
		if !strings.HasPrefix(msg, e.Host+":") {
			msg = e.Host + ": " + msg
		}
		parts[i] = msg
	}
	return strings.Join(parts, "\n")
}

// Unwrap lets errors.Is/As see each host's error.
func (es HostErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e.Err
	}
	return out
}

// Engine runs the steps in order.
type Engine struct {
	Steps []Step
	Env   *Env
}

// StepReport is one step's checks, for review and resume.
type StepReport struct {
	ID     string      `json:"id"`
	Title  string      `json:"title"`
	Status Status      `json:"status"`
	Checks []HostCheck `json:"hosts"`
	Note   string      `json:"note,omitempty"`
}

// Review runs every step's check (read-only) and reports, in order.
func (en *Engine) Review(ctx context.Context) []StepReport {
	// Checks only read: every host at once (the limit protects hosts and
	// mirrors from parallel installs, not from reads).
	if n := len(en.Env.Cluster.Hosts); n > en.Env.Limit {
		old := en.Env.Limit
		en.Env.Limit = n
		defer func() { en.Env.Limit = old }()
	}
	memo := &reviewMemo{}
	en.Env.review = memo
	defer func() { en.Env.review = nil }()
	out := make([]StepReport, len(en.Steps))
	check := func(i int) {
		s := en.Steps[i]
		start := time.Now()
		en.Env.Runner.emit(StepStarted{Step: s.ID(), Title: s.Title(), Mode: "check", Hosts: s.Hosts(en.Env.Cluster)})
		checks := s.Check(ctx, en.Env)
		if memo.discovered != nil && i != 0 && !reviewWithDiscovery[s.ID()] {
			checks = waitsForDocker(en.Env, s.ID(), checks, discoveredHosts(out[0].Checks))
		}
		checks = cleanChecks(en.Env.Secrets.RedactChecks(checks))
		rep := StepReport{ID: s.ID(), Title: s.Title(), Checks: checks, Status: overall(checks)}
		if st := en.Env.State.Get(s.ID()); st != nil && st.Status == Skipped {
			rep.Note = "skipped by the operator: " + st.SkipReason
		}
		en.Env.Runner.emit(StepFinished{Step: s.ID(), Checks: checks, Duration: time.Since(start)})
		out[i] = rep
	}
	// Discovery first: the other checks read the facts it records, but for
	// those that read none (reviewWithDiscovery), which start beside it.
	if len(en.Steps) > 0 && en.Steps[0].ID() == "discover" {
		memo.discovered = make(chan struct{})
	}
	en.reviewOverlapping(check, memo.discovered)
	// What discovery learnt is kept for the UI and the next run; a review
	// changes no host, only this local record.
	_ = en.Env.State.Save()
	return out
}

// reviewOverlapping runs check(i) for every step, reviewOverlap at a time,
// the slow ones first; their events reach the sink as if one after the
// other, in step order. With discovered set, step 0 is discovery: it starts
// first, and a step outside reviewWithDiscovery waits until it has ended.
func (en *Engine) reviewOverlapping(check func(i int), discovered chan struct{}) {
	r := en.Env.Runner
	var order []string
	for _, s := range en.Steps {
		order = append(order, s.ID())
	}
	sink := r.Sink
	r.Sink = newOrderedSink(sink, order).emit
	defer func() { r.Sink = sink }()
	next := make(chan int)
	var wg sync.WaitGroup
	for range reviewOverlap {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if discovered != nil && i != 0 && !reviewWithDiscovery[en.Steps[i].ID()] {
					<-discovered
				}
				check(i)
				if discovered != nil && i == 0 {
					close(discovered)
				}
			}
		}()
	}
	for _, i := range reviewDispatch(en.Steps, discovered != nil) {
		next <- i
	}
	close(next)
	wg.Wait()
}

// overall folds host verdicts into one: the worst wins.
func overall(checks []HostCheck) Status {
	rank := map[Status]int{Done: 0, Skipped: 1, Todo: 2, Unknown: 3, Drifted: 4, Failed: 5}
	st := Done
	for _, c := range checks {
		if rank[c.Status] > rank[st] {
			st = c.Status
		}
	}
	if len(checks) == 0 {
		return Unknown
	}
	return st
}

// Plan is a dry run of every step not done: the exact commands, API calls and
// file diffs, per host. Nothing is changed.
func (en *Engine) Plan(ctx context.Context) ([]Record, error) {
	r := en.Env.Runner
	r.DryRun = true
	defer func() { r.DryRun = false }()
	var errs []string
	for _, s := range en.Steps {
		en.Env.Runner.emit(StepStarted{Step: s.ID(), Title: s.Title(), Mode: "plan", Hosts: s.Hosts(en.Env.Cluster)})
		start := time.Now()
		if en.skipped(s) { // apply leaves it alone, so the plan does too
			en.Env.Runner.emit(StepFinished{Step: s.ID(), Duration: time.Since(start)})
			continue
		}
		err := en.Env.Secrets.RedactErr(s.Apply(ctx, en.Env))
		if err != nil && !errors.Is(err, ErrDryRun) {
			errs = append(errs, fmt.Sprintf("%s: %v", s.ID(), err))
		}
		en.Env.Runner.emit(StepFinished{Step: s.ID(), Err: err, Duration: time.Since(start)})
	}
	if len(errs) > 0 {
		return r.Records(), cleanError(fmt.Errorf("the plan is incomplete:\n%s", strings.Join(errs, "\n")))
	}
	return r.Records(), nil
}

// Apply runs every step in order: check, apply what is not done, check again.
// Each step's outcome is saved before the next starts, so a kill at any moment
// loses at most the step in progress, and its checks find where it stopped.
func (en *Engine) Apply(ctx context.Context) error {
	env := en.Env
	// Data moves are refused before the first step, so nothing is touched.
	if !env.AllowDataMove {
		if changes := DataChanges(ctx, env, en.Steps); len(changes) > 0 {
			return &ConsentError{Changes: changes}
		}
	}
	// Every step's check at once first, as a review runs them (a second
	// apply on an installed cluster is then as quick as a review). Until a
	// step changes something, a later step's check could only say what it
	// said here; from the first change on, each step is checked afresh.
	pre := en.precheck(ctx)
	for _, s := range en.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		applied, err := en.applyStep(ctx, s, pre[s.ID()])
		if err != nil {
			return err
		}
		if applied {
			pre = nil
		}
	}
	return env.State.Save()
}

// precheck runs every step's check the way Review does, its events held
// back (apply shows each step once, with these checks); a step the operator
// skipped is left out, as apply leaves it alone.
func (en *Engine) precheck(ctx context.Context) map[string][]HostCheck {
	r := en.Env.Runner
	sink := r.Sink
	r.Sink = nil
	defer func() { r.Sink = sink }()
	out := map[string][]HostCheck{}
	for _, rep := range en.Review(ctx) {
		out[rep.ID] = rep.Checks
	}
	return out
}

// ApplyStep runs one step: check, apply if needed, verify.
func (en *Engine) ApplyStep(ctx context.Context, s Step) error {
	_, err := en.applyStep(ctx, s, nil)
	return err
}

// applyStep is ApplyStep with the step's checks already read (nil: read
// them now); applied says whether the step changed anything.
func (en *Engine) applyStep(ctx context.Context, s Step, checked []HostCheck) (applied bool, err error) {
	env := en.Env
	start := time.Now()
	hosts := s.Hosts(env.Cluster)
	env.Runner.emit(StepStarted{Step: s.ID(), Title: s.Title(), Mode: "apply", Hosts: hosts})
	fp := ""
	if in, ok := s.(Inputs); ok {
		fp = Fingerprint(in.Inputs(env.Cluster))
	}
	if en.skipped(s) {
		env.Runner.emit(StepFinished{Step: s.ID(), Duration: time.Since(start)})
		return false, nil
	}
	checks := checked
	if checks == nil {
		checks = cleanChecks(env.Secrets.RedactChecks(s.Check(ctx, env)))
	}
	if !AllDone(checks) {
		applied = true
		if err := env.Secrets.RedactErr(s.Apply(ctx, env)); err != nil {
			en.save(s.ID(), Failed, fp, checks)
			env.Runner.emit(StepFinished{Step: s.ID(), Checks: checks, Err: err, Duration: time.Since(start)})
			return applied, cleanError(err)
		}
		checks = cleanChecks(env.Secrets.RedactChecks(s.Check(ctx, env)))
	}
	if !AllDone(checks) {
		err := fmt.Errorf("step %s: applied, but its check still finds work: %s", s.ID(), describeChecks(checks))
		en.save(s.ID(), Failed, fp, checks)
		env.Runner.emit(StepFinished{Step: s.ID(), Checks: checks, Err: err, Duration: time.Since(start)})
		return applied, err
	}
	if err := en.save(s.ID(), Done, fp, checks); err != nil {
		return applied, fmt.Errorf("saving the state file: %w", err)
	}
	env.Runner.emit(StepFinished{Step: s.ID(), Checks: checks, Duration: time.Since(start)})
	return applied, nil
}

// skipped: the operator skipped the step and its inputs have not changed since.
func (en *Engine) skipped(s Step) bool {
	fp := ""
	if in, ok := s.(Inputs); ok {
		fp = Fingerprint(in.Inputs(en.Env.Cluster))
	}
	prev := en.Env.State.Get(s.ID())
	return prev != nil && prev.Status == Skipped && prev.Fingerprint == fp
}

// Skip records that the operator skipped a step, with the reason.
func (en *Engine) Skip(s Step, reason string) error {
	fp := ""
	if in, ok := s.(Inputs); ok {
		fp = Fingerprint(in.Inputs(en.Env.Cluster))
	}
	return en.Env.State.Set(s.ID(), &StepState{Status: Skipped, Time: time.Now().UTC(), Fingerprint: fp, SkipReason: reason})
}

func (en *Engine) save(id string, st Status, fp string, checks []HostCheck) error {
	hosts := map[string]HostCheck{}
	for _, c := range checks {
		hosts[c.Host] = c
	}
	return en.Env.State.Set(id, &StepState{Status: st, Time: time.Now().UTC(), Fingerprint: fp, Hosts: hosts})
}

func describeChecks(checks []HostCheck) string {
	var parts []string
	for _, c := range checks {
		if c.Status != Done {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", c.Host, c.Status, c.Reason))
		}
	}
	return strings.Join(parts, "; ")
}
