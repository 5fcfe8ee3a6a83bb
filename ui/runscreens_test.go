package ui

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// midRun shows the run screen while step id is still running on the hosts:
// the fake prints its lines and waits, the frame is captured, then it ends.
func midRun(t *testing.T, w, h int, id string, accessible bool) *flow {
	f := newFlow(t, w, h, Options{Accessible: accessible})
	f.m.cluster = labCluster(f.m.path)
	rs := &runScreen{}
	for _, s := range fakeSteps {
		rs.queue = append(rs.queue, s.ID())
		if s.ID() == id {
			rs.idx = len(rs.queue) - 1
		}
	}
	f.m.screen = rs
	f.m.busy = "applying " + id
	f.be.block = make(chan struct{})
	done := make(chan struct{})
	go func() {
		f.be.ApplyStep(context.Background(), f.m.cluster, id, f.m.sink())
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.m.q.mu.Lock()
		n := len(f.m.q.pending)
		f.m.q.mu.Unlock()
		want := 3 * (len(f.be.output(id, f.be.lines)) + 2)
		if id == "deploy" {
			want = f.be.lines + 2 + 1 + 4
		}
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.send(drainMsg{})
	t.Cleanup(func() { close(f.be.block); <-done })
	return f
}

func TestRunScreens(t *testing.T) {
	for _, sz := range sizes {
		midRun(t, sz[0], sz[1], "docker", false).wantText("node2 · installing packages").golden("run")
		midRun(t, sz[0], sz[1], "deploy", false).wantText("no node has label webserver").golden("deploy")
		f := midRun(t, sz[0], sz[1], "docker", false)
		f.key("tab", "tab").golden("run-focus-node3")
	}
	// Accessible mode: words instead of symbols, no animation.
	midRun(t, 80, 24, "docker", true).wantText("working: applying docker").golden("run-accessible")
}

// Real apt output as the runner gets it (a carriage return on dpkg's lines,
// progress redrawn with them) leaves the frame whole: no control character
// reaches the screen, the step list and its border stay in place on every
// row, and each pane line shows what a terminal would finally show.
func TestRunScreenRealAptOutput(t *testing.T) {
	for _, sz := range sizes {
		f := midRun(t, sz[0], sz[1], "docker", false)
		frame := ansi.Strip(f.m.View().Content)
		if i := strings.IndexFunc(frame, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }); i >= 0 {
			t.Errorf("%dx%d: a control character reaches the screen at byte %d: %q", sz[0], sz[1], i, frame[max(i-40, 0):min(i+40, len(frame))])
		}
		rows := strings.Split(f.screen(), "\n")
		border := -1
		for r := 1; r < sz[1]-2; r++ {
			i := strings.Index(rows[r], "│")
			if i < 0 {
				t.Errorf("%dx%d: row %d lost the step list's border: %q", sz[0], sz[1], r, rows[r])
				continue
			}
			col := ansi.StringWidth(rows[r][:i])
			if border < 0 {
				border = col
			}
			if col != border {
				t.Errorf("%dx%d: row %d has the border at column %d, not %d: %q", sz[0], sz[1], r, col, border, rows[r])
			}
		}
		// The step list reads as it does beside plain numbered lines (another
		// step running: only the status icons differ).
		want := strings.Split(midRun(t, sz[0], sz[1], "limits", false).screen(), "\n")
		for r := 2; r < 2+len(fakeSteps); r++ {
			got, _, _ := strings.Cut(rows[r], "│")
			w, _, _ := strings.Cut(want[r], "│")
			if strings.TrimLeft(got, "○⠋✓ ") != strings.TrimLeft(w, "○⠋✓ ") {
				t.Errorf("%dx%d: row %d of the step list is %q, want %q", sz[0], sz[1], r, got, w)
			}
		}
		// Redrawn lines at their final state, as a terminal shows them.
		if sz[1] >= 30 {
			f.wantText("(Reading database ... 9539 files and directories currently installed.)")
		}
		f.wantText("Unpacking perl-modules-5.36 (5.36.0-7+deb12u3) ...") // the frame is the "run" golden (TestRunScreens)
	}
}

// The focused pane scrolls back through its ring; end follows again.
func TestRunPaneScrolls(t *testing.T) {
	f := newFlow(t, 100, 30, Options{})
	f.m.cluster = labCluster(f.m.path)
	f.m.screen = &runScreen{queue: []string{"docker"}}
	f.be.lines = 3000 // more than a pane keeps
	f.be.numbered = true
	f.be.ApplyStep(context.Background(), f.m.cluster, "docker", f.m.sink())
	f.send(drainMsg{})
	f.wantText("Unpacking package 3000 of 3000")
	if n := f.m.logs["node1"].lines.len(); n != logLines {
		t.Fatalf("node1 keeps %d lines, want the ring's %d", n, logLines)
	}
	for i := 0; i < 30; i++ {
		f.key("pgup")
	}
	f.wantText("300 lines back").wantText("Unpacking package 2694 of 3000").golden("run-scrolled")
	f.key("end").wantText("Unpacking package 3000 of 3000")
	if strings.Contains(f.screen(), "lines back") {
		t.Fatal("end does not follow the log again")
	}
}
