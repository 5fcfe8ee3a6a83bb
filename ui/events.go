package ui

import (
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// eventQueue coalesces the events the Backend streams: the sink only appends
// under a lock, and the model drains everything on one tick, so 10 hosts
// printing 1,000 lines a second cost one Update per frame, not 10,000.
type eventQueue struct {
	mu      sync.Mutex
	pending []steps.Event
	dropped int
	wake    func() // asks the program for a drain soon (nil in tests)
	waking  bool
}

// maxQueued bounds the queue when the UI cannot keep up: output lines beyond
// it are counted and dropped (the log file still has them).
const maxQueued = 50000

func (q *eventQueue) sink(e steps.Event) {
	q.mu.Lock()
	if _, out := e.(steps.HostOutput); out && len(q.pending) >= maxQueued {
		q.dropped++
		q.mu.Unlock()
		return
	}
	q.pending = append(q.pending, e)
	wake := q.wake != nil && !q.waking
	q.waking = q.waking || wake
	q.mu.Unlock()
	if wake {
		q.wake()
	}
}

// drain takes everything queued, swapping buffers so the slice is reused.
func (q *eventQueue) drain(buf []steps.Event) ([]steps.Event, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := append(buf[:0], q.pending...)
	q.pending = q.pending[:0]
	d := q.dropped
	q.dropped = 0
	q.waking = false
	return out, d
}

// setWake installs the program's wake-up (Run does it once the program exists).
func (q *eventQueue) setWake(f func()) {
	q.mu.Lock()
	q.wake = f
	q.mu.Unlock()
}

// drainMsg asks the model to apply the queued events.
type drainMsg struct{}

// frameInterval is how often queued events are applied at most: 20 frames a second.
const frameInterval = 50 * time.Millisecond

// wakeAfterFrame sends one drainMsg a frame later, so events arriving within
// that frame are applied together.
func wakeAfterFrame(send func(tea.Msg)) func() {
	return func() {
		time.AfterFunc(frameInterval, func() { send(drainMsg{}) })
	}
}
