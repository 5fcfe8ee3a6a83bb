package ui

import "testing"

var sizes = [][2]int{{100, 30}, {80, 24}}

// settingsFields: enter through the settings form (site 5, tuning 4,
// celery 4, postgres 1; the typed confirmation only when a database exists).
const settingsFields = 14

// TestInstallFlow drives a new install from Welcome to Done by keys alone,
// capturing every screen on the way at both sizes.
func TestInstallFlow(t *testing.T) {
	for _, sz := range sizes {
		f := newFlow(t, sz[0], sz[1], Options{})
		f.wantScreen("Welcome").golden("welcome")
		f.key("enter").wantScreen("Hosts")
		f.key("t").wantText("✓ logged").golden("hosts")
		f.key("a").golden("hosts-add").key("esc")
		f.key("enter").wantScreen("Host keys").golden("hostkeys")
		f.key("enter").wantScreen("Discovery").golden("discovery")
		f.key("enter").wantText("acknowledges")
		f.key("a", "enter").wantScreen("sudo password").typeText("s3cret").golden("sudo")
		f.key("enter")
		if f.be.password != "s3cret" {
			t.Fatalf("sudo password handed over = %q", f.be.password)
		}
		f.wantScreen("Install Docker").golden("step-docker")
		f.key("enter").wantScreen("Docker limits").golden("step-limits")
		f.key("enter").wantScreen("Create the swarm").golden("step-swarm")
		f.key("enter", "enter").wantScreen("Overlay network")
		f.key("enter").wantScreen("Get the source").golden("step-source")
		f.key("enter", "enter", "enter").wantScreen("Share it over NFS").golden("step-nfs")
		f.key("enter", "enter").wantScreen("Node labels").golden("labels")
		f.key("enter").wantScreen("Site settings").golden("step-settings")
		for i := 0; i < settingsFields; i++ {
			f.key("enter")
		}
		f.wantScreen("Local registry")
		f.key("enter").wantScreen("Deploy the stack")
		f.key("enter").wantScreen("Migrate the DB")
		f.key("enter").wantScreen("Admin and course").typeText("admin@umich.edu").golden("step-admin")
		f.key("enter").typeText("EECS 280 Fall").key("enter").wantScreen("Plan").golden("plan")
		if a := f.be.cluster.Admin; a.Email != "admin@umich.edu" || a.Course != "EECS 280 Fall" {
			t.Errorf("the admin form saved %+v", a)
		}
		f.key("enter").wantText("Run these").golden("plan-confirm")
		f.be.failOnce["docker"] = true
		f.key("y").wantScreen("Install").wantText("Unable to locate package").golden("run-failed")
		f.key("r").wantScreen("Done").golden("done")
		if n := len(f.be.applied); n != len(fakeSteps)+1 {
			t.Errorf("applied %d steps (%v), want every step once (discover during Discovery), docker twice", n, f.be.applied)
		}
		if f.be.saved == 0 {
			t.Error("the cluster file was never saved")
		}
		if len(f.be.accepted) != 2 {
			t.Errorf("accepted %d host keys, want the 2 new ones", len(f.be.accepted))
		}
		f.key("enter")
		if !f.quit {
			t.Error("enter on Done does not quit")
		}
	}
}
