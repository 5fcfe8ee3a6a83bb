package ui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// operatorFile is a cluster file as an operator writes it, with comments.
const operatorFile = `# Our autograder. Ask Jane before changing the hosts.
name: lab
manager: node1
hosts:
  - name: node1   # the database box
    address: 10.213.0.11
    user: agadmin
    labels: [database, cache, rabbitmq_broker, registry, custom_image_registry, image_builder, small_tasks]
  - name: node2
    address: 10.213.0.12
    user: agadmin
    labels: [webserver, django_app, deferred_grader, rerun_grader, fast_grader, grader]
docker:
  install: official   # Docker's apt repository, as the guide says
source:
  repo: http://10.213.0.1:8080/git/autograder-full-stack.git
  allow_http: true
  path: /home/agadmin/autograder-full-stack
nfs:
  mode: export
swarm:
  publish_mode: ingress
`

// realFileFlow starts a new install on a real cluster file, with the real
// save and re-read.
func realFileFlow(t *testing.T, w, h int, noIPVS bool) (*flow, string) {
	t.Helper()
	// A path of the package's own, the same on every run: the screens show it.
	dir := filepath.Join("testdata", "run-"+t.Name())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "aginstall.yaml")
	if err := os.WriteFile(path, []byte(operatorFile), 0o600); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, ".aginstall"))
	be := newFakeBackend()
	be.realFile, be.noIPVS = true, noIPVS
	f := newFlow(t, w, h, Options{ClusterPath: path, Backend: be, Mode: ModeInstall})
	f.be = be
	return f, path
}

// pinned is the operator's file with the fake's two new host keys pinned.
func pinned(text string) string {
	text = strings.Replace(text, "  - name: node1   # the database box\n", "  - name: node1   # the database box\n    host_key: \""+fp+"\"\n", 1)
	return strings.Replace(text, "  - name: node2\n", "  - name: node2\n    host_key: \"SHA256:7Pq0t1kJ3n8yXb0m2c9s4Ew6Lh5Za1Rv3Tq8Yp2Nd0U\"\n", 1)
}

func fileText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDiscoveryFixesInPlace: no IPVS and no NFS are preflight errors with
// their fix one key away; each fix is a one-key edit of the file, and
// discovery runs again.
func TestDiscoveryFixesInPlace(t *testing.T) {
	for _, sz := range sizes {
		f, path := realFileFlow(t, sz[0], sz[1], true)
		f.wantScreen("Hosts").key("enter").wantScreen("Host keys").key("enter").wantScreen("Discovery")
		f.wantText("h: switch to host publishing").wantText("n: do without NFS").golden("discovery-fix")
		f.key("enter").wantScreen("Discovery")
		f.key("h").wantText("Set in the cluster file: swarm.publish_mode: host")
		if strings.Contains(f.screen(), "h: switch") {
			t.Fatalf("the IPVS error is still there after the fix:\n%s", f.screen())
		}
		f.key("n").wantText("nfs.mode: skip")
		got := fileText(t, path)
		want := strings.Replace(strings.Replace(operatorFile, "publish_mode: ingress", "publish_mode: host", 1), "mode: export", "mode: skip", 1)
		want = pinned(want)
		if got != want {
			t.Fatalf("the file after the fixes:\n%s\nwant only the two keys changed:\n%s", got, want)
		}
		f.key("a", "enter").wantScreen("sudo password")
	}
}

// TestOutsideEditTakenAndConflict: an edit made in another terminal shows
// in the next form, and survives the wizard's save; a key both changed is
// the operator's choice.
func TestOutsideEditTakenAndConflict(t *testing.T) {
	for _, sz := range sizes {
		f, path := realFileFlow(t, sz[0], sz[1], false)
		f.key("enter", "enter").wantScreen("Discovery").key("a", "enter").typeText("pw").key("enter")
		f.wantScreen("Install Docker").key("esc") // leave the form
		// Another terminal: a comment and a new value.
		edited := strings.Replace(fileText(t, path), "  install: official   # Docker's apt repository, as the guide says\n",
			"  # changed by hand: our mirror has Debian's\n  install: distro\n", 1)
		if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
			t.Fatal(err)
		}
		f.key("e").wantText("Took your edit of the cluster file: docker.install")
		f.key("enter").wantScreen("Docker limits")
		if got := fileText(t, path); got != edited {
			t.Fatalf("the save lost the outside edit:\n%s", got)
		}
		// Both change the same key: nothing written until the operator says.
		f.key("esc").wantScreen("Install Docker").key("e", "down")
		edited2 := strings.Replace(edited, "  install: distro\n", "  install: official\n", 1) // the wizard: skip
		if err := os.WriteFile(path, []byte(edited2), 0o600); err != nil {
			t.Fatal(err)
		}
		f.key("enter").wantScreen("Cluster file changed").wantText("docker.install").golden("cluster-conflict")
		if fileText(t, path) != edited2 {
			t.Fatal("a conflict must write nothing")
		}
		f.key("f").wantScreen("Docker limits")
		if got := fileText(t, path); got != edited2 {
			t.Fatalf("keeping the file's value changed the file:\n%s", got)
		}
		if f.be.cluster.Docker.Install != "official" {
			t.Fatalf("the wizard has docker.install %q, the file official", f.be.cluster.Docker.Install)
		}
	}
}

// TestResumeAsksAdmin: an install that went on without an administrator
// ("no admin now") is asked for one on Resume, though every other step is
// done; n skips it again and Done says so.
func TestResumeAsksAdmin(t *testing.T) {
	for _, sz := range sizes {
		for _, give := range []bool{true, false} {
			be := newFakeBackend()
			be.allDone = true
			be.skipped["admin"] = noAdminReason
			f := newFlow(t, sz[0], sz[1], Options{Mode: ModeResume, Backend: be})
			f.be = be
			f.wantScreen("Resume").key("enter").wantScreen("sudo password").typeText("pw").key("enter")
			f.wantScreen("Resume").key("enter")
			f.wantScreen("Admin and course").wantText("Administrator e-mail")
			if !give {
				f.key("esc").wantText("Not asked yet").golden("resume-admin")
				f.key("n").wantScreen("Plan").key("enter", "y").wantScreen("Done")
				f.wantText("with 1 step(s) skipped").wantText("skipped Admin and course: no administrator now").
					wantText("No administrator yet").golden("done-skipped")
				if len(be.applied) != 0 {
					t.Errorf("applied %v, want nothing (all done or skipped)", be.applied)
				}
				continue
			}
			f.typeText("prof@umich.edu").key("enter").typeText("EECS 280").key("enter").wantScreen("Plan")
			f.key("enter", "y").wantScreen("Done").wantText("autograder.io is installed.").
				wantText("Sign in as prof@umich.edu and open the course EECS 280.")
			if strings.Join(be.applied, ",") != "admin" {
				t.Errorf("applied %v, want only admin", be.applied)
			}
		}
	}
}

// TestOutsideEditAfterThePlan: an edit of the cluster file made while the
// plan is on screen is not run unseen: y reads the file, plans again with
// the edit and shows that plan; the next y runs it, with the edit.
func TestOutsideEditAfterThePlan(t *testing.T) {
	f, path := realFileFlow(t, 100, 30, false)
	f.key("enter", "enter").wantScreen("Discovery").key("a", "enter").typeText("pw").key("enter")
	f.wantScreen("Install Docker")
	f.run(f.m.goTo(newPlan()))
	f.wantScreen("Plan").key("enter").wantText("Run these")
	ran := len(f.be.applied) // discovery ran before the plan
	edited := strings.Replace(fileText(t, path), "  install: official   # Docker's apt repository, as the guide says\n",
		"  # changed by hand while the plan was shown\n  install: distro\n", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	f.key("y").wantScreen("Plan").wantText("Planned again").wantText("docker.install")
	if n := len(f.be.plannedWith); n != 2 || f.be.plannedWith[1].Docker.Install != "distro" {
		t.Fatalf("%d plans; the last with docker.install %q, want a second plan with distro", n, f.be.plannedWith[n-1].Docker.Install)
	}
	if len(f.be.applied) != ran {
		t.Fatalf("ran %v before the new plan was confirmed", f.be.applied[ran:])
	}
	f.key("enter", "y").wantScreen("Done") // the fake's steps run at once
	if len(f.be.appliedWith) <= ran || f.be.appliedWith[ran].Docker.Install != "distro" {
		t.Fatalf("applied without the edit: %v", f.be.applied)
	}
	if fileText(t, path) != edited {
		t.Fatal("the run changed the operator's file")
	}
}

// TestRunTakesWhatThePlanChanges: a step the review found done still runs
// when the confirmed plan changes it (the deploy after a settings edit), and
// so does every step after it (checked afresh, as the CLI's apply does);
// the done ones before it do not.
func TestRunTakesWhatThePlanChanges(t *testing.T) {
	be := newFakeBackend()
	be.planChanges = "limits" // the fake's review: discover, docker, limits and swarm done
	f := newFlow(t, 100, 30, Options{Mode: ModeResume, Backend: be})
	f.be = be
	f.wantScreen("Resume").key("enter").wantScreen("sudo password").typeText("pw").key("enter").wantScreen("Resume")
	f.run(f.m.goTo(newPlan()))
	f.wantScreen("Plan").key("enter", "y").wantScreen("Done")
	if i := slices.Index(be.applied, "limits"); i < 0 || slices.Contains(be.applied, "docker") || !slices.Contains(be.applied[i:], "swarm") {
		t.Fatalf("applied %v: want limits (changed by the plan) and swarm after it, not docker (done before it)", be.applied)
	}
}

// TestOutsideEditDuringTheRun: an edit of the cluster file made while the
// steps run is not in that run (its plan was confirmed before), so Done
// does not call the install finished with it: it names the edited key, and
// r checks every step again with the edit (Resume).
func TestOutsideEditDuringTheRun(t *testing.T) {
	f, path := realFileFlow(t, 100, 30, false)
	f.key("enter", "enter").wantScreen("Discovery").key("a", "enter").typeText("pw").key("enter")
	f.wantScreen("Install Docker")
	var edited string
	f.be.onApply = func(id string) {
		if id != "settings" || edited != "" {
			return
		}
		edited = strings.Replace(fileText(t, path), "  install: official   # Docker's apt repository, as the guide says\n",
			"  install: distro   # changed by hand while the steps ran\n", 1)
		if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
			t.Error(err)
		}
	}
	f.run(f.m.goTo(newPlan()))
	f.wantScreen("Plan").key("enter", "y").wantScreen("Done")
	f.wantText("The cluster file changed while this ran: docker.install").wantText("r checks every step")
	if strings.Contains(f.screen(), "Took your edit") {
		t.Errorf("Done says the edit was taken, as if it had been applied:\n%s", f.screen())
	}
	if f.m.cluster.Docker.Install != "distro" {
		t.Errorf("the wizard has docker.install %q after Done read the file, want distro", f.m.cluster.Docker.Install)
	}
	if fileText(t, path) != edited {
		t.Fatal("Done changed the operator's file")
	}
	f.key("r").wantScreen("Resume")
}

// TestDoneWithoutOutsideEdit: no edit, no note and no r.
func TestDoneWithoutOutsideEdit(t *testing.T) {
	f, _ := realFileFlow(t, 100, 30, false)
	f.key("enter", "enter").wantScreen("Discovery").key("a", "enter").typeText("pw").key("enter")
	f.wantScreen("Install Docker")
	f.run(f.m.goTo(newPlan()))
	f.wantScreen("Plan").key("enter", "y").wantScreen("Done").wantText("autograder.io is installed.")
	if s := f.screen(); strings.Contains(s, "changed while this ran") || strings.Contains(s, "r check") {
		t.Errorf("Done speaks of an edit nobody made:\n%s", s)
	}
	f.key("r").wantScreen("Done")
}
