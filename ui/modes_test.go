package ui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestScreens captures the screens the install flow does not reach.
func TestScreens(t *testing.T) {
	for _, sz := range sizes {
		// A changed host key is a red stop with the fix; enter refuses.
		f := newFlow(t, sz[0], sz[1], Options{})
		f.be.changed = true
		f.key("enter", "enter").wantScreen("Host keys").wantText("STOP").golden("hostkeys-changed")
		f.key("enter").wantScreen("Host keys").wantText("A changed key stops the install")

		// A login that fails says why and what to do.
		f = newFlow(t, sz[0], sz[1], Options{})
		f.be.noLogin = "node3"
		f.key("enter", "t").wantText("ssh-copy-id").golden("hosts-login-failed")

		// A new host key is no failed login: the next screen confirms it.
		f = newFlow(t, sz[0], sz[1], Options{})
		f.be.newKey = "node3"
		f.key("enter", "t").wantText("node3: new host key: you confirm it on the next screen").golden("hosts-new-key")
		if strings.Contains(f.screen(), "fix:") {
			t.Errorf("a new host key gets a fix line:\n%s", f.screen())
		}

		// Full help and the quit question while work runs.
		f = newFlow(t, sz[0], sz[1], Options{})
		f.key("?").golden("help")
		f.key("?")
		f.m.busy = "applying docker"
		f.key("q").wantText("Quit anyway? y/n").golden("quit-confirm")

		// Review: read-only checklist with per-host details.
		f = newFlow(t, sz[0], sz[1], Options{Mode: ModeReview})
		f.wantScreen("Review").key("down", "down", "down", "down").golden("review")
		// Checks that needed sudo said unknown: enter asks for the password
		// and reviews again (still read-only: no step screen follows).
		f.key("enter").wantScreen("sudo password").typeText("pw").key("enter").wantScreen("Review")
		if string(f.be.password) != "pw" || strings.Contains(f.screen(), "Checks that need sudo") {
			t.Errorf("after the password: handed %q, screen:\n%s", f.be.password, f.screen())
		}
		f.key("enter").wantScreen("Review")
		// esc leaves the review, not a stale copy of it from before the password.
		f.key("esc").wantScreen("Welcome")

		// Resume: what was found done, then the first step not done.
		f = newFlow(t, sz[0], sz[1], Options{Mode: ModeResume})
		f.wantScreen("Resume").golden("resume")
		f.key("enter").wantScreen("sudo password")
		f.typeText("pw").key("enter").wantScreen("Resume").wantText("Enter continues at the first step")
		if strings.Contains(f.screen(), "give the sudo password") {
			t.Errorf("resume offers the password again:\n%s", f.screen())
		}
		f.key("enter").wantScreen("Overlay network")

		// Re-label: the matrix on the live swarm, then the diff with the
		// data-move warning and the typed confirmation.
		f = newFlow(t, sz[0], sz[1], Options{Mode: ModeRelabel})
		f.wantScreen("Re-label").golden("relabel")
		f.key("down", "down", "down", "space", "right", "space").key("enter").wantText("DATA: database moves").golden("relabel-review")

		// Skip asks for the reason.
		f = newFlow(t, sz[0], sz[1], Options{Mode: ModeResume})
		f.key("enter").typeText("pw").key("enter").wantScreen("Resume").key("enter", "s").wantScreen("Skip Overlay network").golden("skip")
	}
}

// Hosts behind a new bastion: its key first, alone; once accepted the screen
// scans again through it and shows the hosts' keys (rounds, as the CLI).
func TestHostKeysBastionRounds(t *testing.T) {
	f := newFlow(t, 100, 30, Options{})
	f.be.bastion = true
	f.key("enter", "enter").wantScreen("Host keys").wantText("jump").wantText("bastion's key is not accepted yet")
	if strings.Contains(f.screen(), "node2") {
		t.Fatalf("hosts behind the bastion scanned before its key was accepted:\n%s", f.screen())
	}
	f.key("enter").wantScreen("Host keys").wantText("node2")
	if len(f.be.accepted) != 1 || !f.be.accepted[0].Bastion {
		t.Fatalf("accepted %+v, want the bastion alone", f.be.accepted)
	}
	f.key("enter")
	if len(f.be.accepted) != 3 || f.title() == "Host keys" {
		t.Fatalf("second round: accepted %d keys, screen %q", len(f.be.accepted), f.title())
	}
}

// A long reason (what a host said) is wrapped under its host, bounded, and
// never wider than the pane.
func TestReviewReasonWraps(t *testing.T) {
	long := strings.Repeat("the host said something long and useful ", 20)
	got := reviewReason("? node1     ", long, 60)
	lines := strings.Split(got, "\n")
	if len(lines) != reviewReasonLines || !strings.HasPrefix(lines[0], "? node1     the host said") ||
		!strings.HasPrefix(lines[1], "            s") || !strings.Contains(lines[3], "x exports the whole review") {
		t.Fatalf("wrapped:\n%s", got)
	}
	for _, l := range lines {
		if ansi.StringWidth(l) > 60 {
			t.Fatalf("line wider than 60: %q", l)
		}
	}
	if got := reviewReason("✓ node2     ", "done", 60); got != "✓ node2     done" {
		t.Fatalf("short reason: %q", got)
	}
}
