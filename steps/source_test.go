package steps

import (
	"strings"
	"testing"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

func TestParseSourceAndResolve(t *testing.T) {
	out := "ls_remote_exit=0\nremote=" + testSHA + "\trefs/heads/master\nremote=" + strings.Repeat("b", 40) + "\trefs/tags/v1\n" +
		"remote=" + strings.Repeat("c", 40) + "\trefs/tags/v1^{}\n" +
		"state=checkout\nurl=http://x/repo.git/\nhead=" + testSHA + "\nbranch=master\nlocal_ref=" + testSHA + "\n" +
		"sub= " + testSHA + " autograder-server (heads/master)\nsub=-" + testSHA + " ag-website-vue\nchanged= M docker-compose.yml\nchanged= M ag-website-vue\nchanged=M  ag-website-vue/src/constants.ts\n"
	s := parseSource(out)
	if s.state != "checkout" || !s.lsRemoteOK || s.branch != "master" || len(s.subs) != 2 || s.changed[0] != "M docker-compose.yml" || s.changed[2] != "M ag-website-vue/src/constants.ts" {
		t.Fatalf("%+v", s)
	}
	if !sameRepo(s.url, "http://x/repo") || sameRepo(s.url, "http://y/repo") {
		t.Error("same repo")
	}
	if got := strings.Join(changedFiles(s), ","); got != "docker-compose.yml,ag-website-vue/src/constants.ts" {
		t.Errorf("changed files (the submodule's own entry left out): %s", got)
	}
	if ok, why := submodulesReady(s.subs); ok || why != "submodule not initialised: ag-website-vue" {
		t.Errorf("subs: %v %q", ok, why)
	}
	for ref, want := range map[string]string{"master": "branch " + testSHA, "v1": "tag " + strings.Repeat("c", 40),
		"0123456": "commit " + testSHA, "abcdef0": "commit ", "nope": " "} {
		k, c := resolveRef(s, ref)
		if k+" "+c != want {
			t.Errorf("%s: %q %q", ref, k, c)
		}
	}
	failed := parseSource("ls_remote_exit=128\nremote=fatal: repository 'http://x/' not found\nstate=absent\n")
	if failed.lsRemoteOK || failed.lsRemote != "fatal: repository 'http://x/' not found" {
		t.Fatalf("%+v", failed)
	}
}

func TestSourceCmds(t *testing.T) {
	spec := SourceSpec{Repo: "https://github.com/eecs-autograder/autograder-full-stack.git", Ref: "master", Path: "/srv/my ag's"}
	join := func(cs []sourceCmd) string {
		var l []string
		for _, c := range cs {
			l = append(l, c.line+c.refuse)
		}
		return strings.Join(l, "\n")
	}
	fresh := join(sourceCmds(spec, sourceState{state: "empty"}, "branch", testSHA))
	if fresh != gitCmd+`clone --recursive --branch master -- https://github.com/eecs-autograder/autograder-full-stack.git '/srv/my ag'"'"'s'` {
		t.Errorf("fresh clone:\n%s", fresh)
	}
	byCommit := join(sourceCmds(SourceSpec{Repo: spec.Repo, Ref: "0123456", Path: "/srv/ag"}, sourceState{state: "absent"}, "commit", ""))
	if !strings.Contains(byCommit, "clone --recursive -- ") || !strings.Contains(byCommit, "-C /srv/ag checkout --detach 0123456") ||
		!strings.Contains(byCommit, "submodule update --init --recursive") {
		t.Errorf("commit clone:\n%s", byCommit)
	}
	done := sourceState{state: "checkout", head: testSHA}
	if cmds := sourceCmds(spec, done, "branch", testSHA); len(cmds) != 0 {
		t.Errorf("done checkout: %v", cmds)
	}
	done.subs = []string{"-abc sub"}
	if got := join(sourceCmds(spec, done, "branch", testSHA)); !strings.HasSuffix(got, "submodule update --init --recursive") {
		t.Errorf("subs: %s", got)
	}
	moved := sourceState{state: "checkout", head: strings.Repeat("a", 40), changed: []string{"M docker-compose.yml", "M README.md"}}
	cmds := sourceCmds(SourceSpec{Repo: spec.Repo, Ref: "v2", Path: "/srv/ag"}, moved, "tag", testSHA)
	if len(cmds) != 1 || !strings.Contains(cmds[0].refuse, "local changes to tracked files (README.md)") {
		t.Errorf("local changes not refused: %+v", cmds)
	}
	// Only aginstall's own edits: stashed in the repository holding each, then the switch.
	moved.changed = []string{"M docker-compose.yml", "M autograder-server", "M autograder-server/_prod.env", "M autograder-server/autograder/core/constants.py"}
	moved.subs = []string{"+" + testSHA + " autograder-server (heads/master)", " " + testSHA + " ag-website-vue (v1)"}
	got := join(sourceCmds(SourceSpec{Repo: spec.Repo, Ref: "v2", Path: "/srv/ag"}, moved, "tag", testSHA))
	for _, want := range []string{
		"user.email=aginstall@localhost -C /srv/ag stash push -m 'aginstall: its own edits, before switching to v2' -- docker-compose.yml\n",
		"-C /srv/ag/autograder-server stash push -m 'aginstall: its own edits, before switching to v2' -- _prod.env autograder/core/constants.py\n",
		"checkout --detach refs/tags/v2"} {
		if !strings.Contains(got, want) {
			t.Errorf("stash and switch lacks %q:\n%s", want, got)
		}
	}
	moved.changed, moved.subs = nil, nil
	got = join(sourceCmds(SourceSpec{Repo: spec.Repo, Ref: "v2", Path: "/srv/ag"}, moved, "tag", testSHA))
	if !strings.Contains(got, "fetch --tags origin") || !strings.Contains(got, "checkout --detach refs/tags/v2") || !strings.Contains(got, "submodule update") {
		t.Errorf("switch to tag:\n%s", got)
	}
	got = join(sourceCmds(SourceSpec{Repo: spec.Repo, Ref: "dev", Path: "/srv/ag"}, moved, "branch", testSHA))
	if !strings.Contains(got, "checkout dev && "+gitCmd+"-C /srv/ag merge --ff-only origin/dev") {
		t.Errorf("switch to branch:\n%s", got)
	}
}
