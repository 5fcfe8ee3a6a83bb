package steps

import "sync"

// reviewOverlap is how many steps' checks a review runs at once after
// discovery. Checks only read, and each waits mostly on its hosts (a docker
// exec, git, the network), so several overlap well; each holds one or two
// sessions per host at a time, so four stay well within sshd's MaxSessions
// (10 per connection by default).
const reviewOverlap = 4

// reviewSlowFirst are the checks that wait longest on an installed cluster
// (git in the checkout, the images' fingerprint, the database): a review
// starts them first, so they do not wait behind the quick ones. The admin
// check shares the migrate check's answer, so it keeps its place.
var reviewSlowFirst = map[string]bool{"source": true, "deploy": true, "migrate": true}

// reviewWithDiscovery are the checks that read no fact discovery records
// (the checkout's git state, the stack's convergence and the images'
// fingerprint), or only to place a swarm node the cluster file does not
// name, and then wait for it (the migrate check, findServiceTask): they
// start beside discovery instead of after it.
var reviewWithDiscovery = map[string]bool{"source": true, "deploy": true, "migrate": true}

// reviewDispatch is the order a review starts the checks in: discovery
// first (when withDiscovery, it is step 0), then the slow ones, then the
// others, each group in step order.
func reviewDispatch(steps []Step, withDiscovery bool) []int {
	var head, slow, rest []int
	for i := range steps {
		switch {
		case i == 0 && withDiscovery:
			head = append(head, i)
		case reviewSlowFirst[steps[i].ID()]:
			slow = append(slow, i)
		default:
			rest = append(rest, i)
		}
	}
	return append(append(head, slow...), rest...)
}

// eventStep is the step an event belongs to.
func eventStep(e Event) string {
	switch e := e.(type) {
	case StepStarted:
		return e.Step
	case CommandStarted:
		return e.Step
	case HostOutput:
		return e.Step
	case HostProgress:
		return e.Step
	case HostFinished:
		return e.Step
	case HostChecked:
		return e.Step
	case StepFinished:
		return e.Step
	}
	return ""
}

// orderedSink passes on the events of steps that run at once in the order
// they would have had one after the other: the head step's events at once,
// a later step's held until every step before it has finished. The UI and
// the printer see a sequential review, only sooner.
type orderedSink struct {
	mu    sync.Mutex
	out   Sink
	order []string
	head  int
	held  map[string][]Event
}

func newOrderedSink(out Sink, order []string) *orderedSink {
	return &orderedSink{out: out, order: order, held: map[string][]Event{}}
}

func (o *orderedSink) emit(e Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	step := eventStep(e)
	if o.head >= len(o.order) || step == "" || step == o.order[o.head] {
		o.pass(e)
		return
	}
	o.held[step] = append(o.held[step], e)
}

// pass sends e on and, when it ends the head step, moves the head on,
// sending what the next step's checks said meanwhile.
func (o *orderedSink) pass(e Event) {
	if o.out != nil {
		o.out(e)
	}
	f, ok := e.(StepFinished)
	if !ok || o.head >= len(o.order) || f.Step != o.order[o.head] {
		return
	}
	o.head++
	if o.head < len(o.order) {
		next := o.order[o.head]
		held := o.held[next]
		delete(o.held, next)
		for _, e := range held {
			o.pass(e)
		}
	}
}
