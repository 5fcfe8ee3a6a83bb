package steps

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Events of overlapping steps come out as a sequential review's would.
func TestOrderedSinkKeepsStepOrder(t *testing.T) {
	var got []string
	o := newOrderedSink(func(e Event) { got = append(got, fmt.Sprintf("%T %s", e, eventStep(e))) }, []string{"a", "b", "c"})
	for _, e := range []Event{
		StepStarted{Step: "a"},
		StepStarted{Step: "b"}, // b starts while a runs: held
		HostOutput{Step: "b", Text: "b1"},
		StepStarted{Step: "c"},
		HostOutput{Step: "a", Text: "a1"},
		StepFinished{Step: "c"}, // c ends before a and b: held
		StepFinished{Step: "a"}, // releases b's events; b is the head now
		HostOutput{Step: "b", Text: "b2"},
		StepFinished{Step: "b"}, // releases c's, which end c at once
	} {
		o.emit(e)
	}
	want := []string{
		"steps.StepStarted a", "steps.HostOutput a", "steps.StepFinished a",
		"steps.StepStarted b", "steps.HostOutput b", "steps.HostOutput b", "steps.StepFinished b",
		"steps.StepStarted c", "steps.StepFinished c",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// overlapProbe counts the checks running at once.
type overlapProbe struct {
	mu        sync.Mutex
	now, most int
	two       chan struct{} // closed once reviewOverlap checks run together
	closeTwo  sync.Once
}

// pairedCheck is a read-only step whose check waits (at most 10 s) for
// reviewOverlap checks to be running, so overlap is seen, not timed.
type pairedCheck struct {
	id string
	p  *overlapProbe
}

func (s pairedCheck) ID() string                                { return s.id }
func (s pairedCheck) Title() string                             { return "paired " + s.id }
func (s pairedCheck) Hosts(c *Cluster) []string                 { return ManagerOnly(c) }
func (s pairedCheck) Apply(ctx context.Context, env *Env) error { return nil }
func (s pairedCheck) Check(ctx context.Context, env *Env) []HostCheck {
	s.p.mu.Lock()
	s.p.now++
	s.p.most = max(s.p.most, s.p.now)
	if s.p.now >= reviewOverlap {
		s.p.closeTwo.Do(func() { close(s.p.two) })
	}
	s.p.mu.Unlock()
	defer func() { s.p.mu.Lock(); s.p.now--; s.p.mu.Unlock() }()
	select {
	case <-s.p.two:
	case <-time.After(10 * time.Second):
	}
	return []HostCheck{{Host: env.Cluster.Manager, Status: Done, Reason: "looked"}}
}

// A review overlaps its checks, reviewOverlap at a time, yet its reports
// and events are in step order.
func TestReviewOverlapsInOrder(t *testing.T) {
	f := &fakeHosts{files: map[string]string{}}
	env := testEnv(t, f)
	var mu sync.Mutex
	var seen []string
	env.Runner.Sink = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e := e.(type) {
		case StepStarted:
			seen = append(seen, "start "+e.Step)
		case StepFinished:
			seen = append(seen, "end "+e.Step)
		}
	}
	p := &overlapProbe{two: make(chan struct{})}
	var ids, want []string
	var steps []Step
	for i := range 2 * reviewOverlap {
		id := fmt.Sprintf("s%d", i)
		ids = append(ids, id)
		want = append(want, "start "+id, "end "+id)
		steps = append(steps, pairedCheck{id, p})
	}
	steps[len(steps)-1] = pairedCheck{"deploy", p} // a slow one: started first, reported in its place
	ids[len(ids)-1], want[len(want)-2], want[len(want)-1] = "deploy", "start deploy", "end deploy"
	reps := (&Engine{Env: env, Steps: steps}).Review(context.Background())
	for i, id := range ids {
		if reps[i].ID != id || reps[i].Status != Done {
			t.Errorf("report %d: %+v", i, reps[i])
		}
	}
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Fatalf("events out of order:\n got %v\nwant %v", seen, want)
	}
	if p.most != reviewOverlap {
		t.Errorf("at most %d checks ran at once, want %d", p.most, reviewOverlap)
	}
}

// countStep counts its checks and applies; it is done once applied (or from
// the start, with done set).
type countStep struct {
	id      string
	mu      *sync.Mutex
	done    map[string]bool
	checks  map[string]int
	applies map[string]int
}

func (s countStep) ID() string                { return s.id }
func (s countStep) Title() string             { return s.id }
func (s countStep) Hosts(c *Cluster) []string { return ManagerOnly(c) }
func (s countStep) Check(ctx context.Context, env *Env) []HostCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[s.id]++
	if s.done[s.id] {
		return []HostCheck{{Host: env.Cluster.Manager, Status: Done, Reason: "done"}}
	}
	return []HostCheck{{Host: env.Cluster.Manager, Status: Todo, Reason: "to do"}}
}
func (s countStep) Apply(ctx context.Context, env *Env) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applies[s.id]++
	s.done[s.id] = true
	return nil
}

// Apply checks every step at once first: a second apply checks each step
// once and shows each step once, in apply mode; from the first step that
// changes something on, every later step is checked afresh.
func TestApplyPrechecksThenChecksAfterAChange(t *testing.T) {
	env := testEnv(t, &fakeHosts{files: map[string]string{}})
	var events []string
	env.Runner.Sink = func(e Event) {
		switch e := e.(type) {
		case StepStarted:
			events = append(events, e.Mode+" "+e.Step)
		}
	}
	mk := func(done ...string) ([]Step, countStep) {
		c := countStep{mu: &sync.Mutex{}, done: map[string]bool{}, checks: map[string]int{}, applies: map[string]int{}}
		for _, d := range done {
			c.done[d] = true
		}
		var steps []Step
		for _, id := range []string{"a", "b", "c"} {
			s := c
			s.id = id
			steps = append(steps, s)
		}
		return steps, c
	}
	steps, c := mk("a", "b", "c")
	if err := (&Engine{Env: env, Steps: steps}).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(c.checks) != "map[a:1 b:1 c:1]" || len(c.applies) != 0 || strings.Join(events, ",") != "apply a,apply b,apply c" {
		t.Fatalf("no-op apply: checks %v applies %v events %v", c.checks, c.applies, events)
	}
	events = nil
	steps, c = mk("a", "c")
	if err := (&Engine{Env: env, Steps: steps}).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	// a: the first check; b: the first, then after its apply; c: the first,
	// then afresh after b changed something.
	if fmt.Sprint(c.checks) != "map[a:1 b:2 c:2]" || fmt.Sprint(c.applies) != "map[b:1]" || strings.Join(events, ",") != "apply a,apply b,apply c" {
		t.Fatalf("apply with a change: checks %v applies %v events %v", c.checks, c.applies, events)
	}
}

func TestReviewDispatchSlowFirst(t *testing.T) {
	var steps []Step
	for _, id := range []string{"discover", "docker", "source", "deploy", "admin", "migrate"} {
		steps = append(steps, pairedCheck{id: id})
	}
	if got := fmt.Sprint(reviewDispatch(steps, true)); got != "[0 2 3 5 1 4]" {
		t.Fatalf("dispatch %s", got)
	}
}

// funcCheck is a read-only step whose check is a function.
type funcCheck struct {
	id string
	fn func()
}

func (s funcCheck) ID() string                                { return s.id }
func (s funcCheck) Title() string                             { return s.id }
func (s funcCheck) Hosts(c *Cluster) []string                 { return ManagerOnly(c) }
func (s funcCheck) Apply(ctx context.Context, env *Env) error { return nil }
func (s funcCheck) Check(ctx context.Context, env *Env) []HostCheck {
	s.fn()
	return []HostCheck{{Host: env.Cluster.Manager, Status: Done, Reason: "looked"}}
}

// The source check reads no fact and starts beside discovery; the docker
// check reads facts and starts only once discovery has ended.
func TestReviewStartsSourceBesideDiscovery(t *testing.T) {
	env := testEnv(t, &fakeHosts{files: map[string]string{}})
	sourceStarted := make(chan struct{})
	var mu sync.Mutex
	discoveryEnded, overlapped, dockerAfter := false, false, false
	steps := []Step{
		funcCheck{"discover", func() {
			select {
			case <-sourceStarted:
				overlapped = true
			case <-time.After(10 * time.Second):
			}
			mu.Lock()
			discoveryEnded = true
			mu.Unlock()
		}},
		funcCheck{"docker", func() { mu.Lock(); dockerAfter = discoveryEnded; mu.Unlock() }},
		funcCheck{"source", func() { close(sourceStarted) }},
	}
	reps := (&Engine{Env: env, Steps: steps}).Review(context.Background())
	if !overlapped || !dockerAfter || len(reps) != 3 || reps[2].ID != "source" {
		t.Fatalf("source beside discovery %v, docker after it %v, reports %+v", overlapped, dockerAfter, reps)
	}
}
