package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	pathpkg "path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"aginstall/remote"
	"aginstall/steps/edit"
)

// These fuzz targets take every command line the steps build from operator
// strings (cluster file values) and run it under a real /bin/sh whose PATH
// holds only recording stand-ins (git, env, sh, timeout, sha256sum) and whose
// cd/echo/printf are recording functions. The set of commands run, with their
// exact argv, must be what the step means to run: a quote, `;`, `$()`,
// backtick or newline in a value that ran anything else, or reached a command
// split or expanded, changes that set.

var faultFuzzSeeds = []string{
	"/root/autograder-full-stack", "master", "v2", "http://10.213.0.1:8080/git/a.git",
	"it's", `"double"`, `'`, `\`, "a b", "; touch pwned", "$(touch pwned)", "`touch pwned`",
	"$HOME", "${IFS}", "a\nb", "-n", "--", "*", "~root", "#x", "a|b&c>d<e", "é 漢字 🐳", "\xff",
	"/srv/x'; touch pwned; echo '", "/srv/$(touch pwned)/x", "origin/../x",
}

// faultFuzzShell is a directory with the recording stand-ins.
type faultFuzzShell struct{ bin, work string }

const faultFuzzShim = "#!/bin/sh\nn=${0##*/}\nif [ \"$n\" = _rec ]; then printf '%s\\0' \"$@\" > \"$SHIMLOG/$$\"; else printf '%s\\0' \"$n\" \"$@\" > \"$SHIMLOG/$$\"; fi\n"

// Builtins a step line uses; as functions they record instead of acting.
const faultFuzzFuncs = "cd() { _rec cd \"$@\"; }; echo() { _rec echo \"$@\"; }; printf() { _rec printf \"$@\"; }\n"

func newFaultFuzzShell(f *testing.F) *faultFuzzShell {
	dir := f.TempDir()
	s := &faultFuzzShell{bin: filepath.Join(dir, "bin"), work: filepath.Join(dir, "work")}
	os.MkdirAll(s.bin, 0o755)
	os.MkdirAll(s.work, 0o755)
	shim := filepath.Join(s.bin, "_rec")
	if err := os.WriteFile(shim, []byte(faultFuzzShim), 0o755); err != nil {
		f.Fatal(err)
	}
	for _, n := range []string{"git", "env", "sh", "timeout", "sha256sum", "sudo", "mkdir", "umount", "docker"} {
		if err := os.Symlink(shim, filepath.Join(s.bin, n)); err != nil {
			f.Fatal(err)
		}
	}
	return s
}

// run executes line and returns every command it ran, sorted (pipelines run
// concurrently), each as its argv.
func (s *faultFuzzShell) run(t *testing.T, line string) [][]string {
	t.Helper()
	logDir := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", faultFuzzFuncs+line)
	cmd.Dir = s.work
	cmd.Env = []string{"PATH=" + s.bin, "SHIMLOG=" + logDir, "HOME=" + s.work}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sh -c %q: %v\nstderr: %s", line, err, stderr.String())
	}
	if stdout.Len() > 0 || stderr.Len() > 0 {
		t.Fatalf("sh -c %q printed (something ran that is not a stand-in):\nstdout %q\nstderr %q", line, stdout.String(), stderr.String())
	}
	entries, _ := os.ReadDir(logDir)
	var got [][]string
	for _, e := range entries {
		raw, _ := os.ReadFile(filepath.Join(logDir, e.Name()))
		got = append(got, strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00"))
	}
	return faultFuzzSorted(got)
}

func faultFuzzSorted(cmds [][]string) [][]string {
	sort.Slice(cmds, func(i, j int) bool { return strings.Join(cmds[i], "\x00") < strings.Join(cmds[j], "\x00") })
	return cmds
}

func (s *faultFuzzShell) expect(t *testing.T, line string, want ...[]string) {
	t.Helper()
	got := s.run(t, line)
	want = faultFuzzSorted(want)
	if faultFuzzKey(got) != faultFuzzKey(want) {
		t.Fatalf("sh -c %q ran\n  %q\nwant\n  %q", line, got, want)
	}
}

func faultFuzzKey(cmds [][]string) string {
	var parts []string
	for _, c := range cmds {
		parts = append(parts, strings.Join(c, "\x00"))
	}
	return strings.Join(parts, "\x01")
}

// faultFuzzUsable: NUL cannot be in a command line, and the sort key uses \x01.
func faultFuzzUsable(t *testing.T, vals ...string) {
	for _, v := range vals {
		if strings.ContainsAny(v, "\x00\x01") || len(v) > 2000 {
			t.Skip("not expressible in a command line")
		}
	}
}

func faultFuzzArgs(a ...string) []string { return a }

// gitSafeArgs is gitSafe as argv (its only quotes are around the '*').
func gitSafeArgs() []string {
	return strings.Fields(strings.ReplaceAll(gitSafe, "'", ""))
}

// FuzzSourceCommands: the probe and every git command the source step can
// plan, for any repo, ref and path.
func FuzzSourceCommands(f *testing.F) {
	sh := newFaultFuzzShell(f)
	for i, s := range faultFuzzSeeds {
		f.Add(s, faultFuzzSeeds[(i+3)%len(faultFuzzSeeds)], faultFuzzSeeds[(i+11)%len(faultFuzzSeeds)])
	}
	f.Fuzz(func(t *testing.T, repo, ref, path string) {
		faultFuzzUsable(t, repo, ref, path)
		c := &Cluster{Source: SourceSpec{Repo: repo, Ref: ref, Path: path}}
		sh.expect(t, sourceProbeCmd(c).Line, faultFuzzArgs("env", "AG_PATH="+path, "AG_REPO="+repo, "AG_REF="+ref, "sh", "-s"))

		git := gitSafeArgs()
		gitC := append(append([]string{}, git...), "-C", path)
		with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
		subs := with(gitC, "submodule", "update", "--init", "--recursive")
		spec := c.Source
		cases := []struct {
			src  sourceState
			kind string
			want [][]string // per planned command
		}{
			{sourceState{state: "absent"}, "commit", [][]string{
				with(git, "clone", "--recursive", "--", repo, path), with(gitC, "checkout", "--detach", ref), subs}},
			{sourceState{state: "absent"}, "branch", [][]string{
				with(git, "clone", "--recursive", "--branch", ref, "--", repo, path)}},
			{sourceState{state: "checkout", head: "a"}, "branch", nil},
			{sourceState{state: "checkout", head: "a"}, "tag", nil},
			{sourceState{state: "checkout", head: "a"}, "commit", nil},
		}
		for _, tc := range cases {
			cmds := sourceCmds(spec, tc.src, tc.kind, "b")
			want := tc.want
			if tc.src.state == "checkout" {
				checkout := map[string][]string{
					"tag":    with(gitC, "checkout", "--detach", "refs/tags/"+ref),
					"commit": with(gitC, "checkout", "--detach", ref),
				}[tc.kind]
				want = [][]string{with(gitC, "fetch", "--tags", "origin"), checkout, subs}
			}
			if len(cmds) != len(want) {
				t.Fatalf("%s %s: %d commands, want %d: %+v", tc.src.state, tc.kind, len(cmds), len(want), cmds)
			}
			for i, cmd := range cmds {
				if cmd.refuse != "" {
					t.Fatalf("unexpected refusal %q", cmd.refuse)
				}
				if tc.kind == "branch" && tc.src.state == "checkout" && i == 1 {
					// checkout REF && merge --ff-only origin/REF: two commands in one line
					sh.expect(t, cmd.line, with(gitC, "checkout", ref), with(gitC, "merge", "--ff-only", "origin/"+ref))
					continue
				}
				sh.expect(t, cmd.line, want[i])
			}
		}
	})
}

// FuzzHostProbeCommands: the docker probe (operator's SSH user), discover's
// facts script (source path, peer address) and the settings/deploy lines
// that name the checkout, the TLS files and the stack.
func FuzzHostProbeCommands(f *testing.F) {
	sh := newFaultFuzzShell(f)
	for i, s := range faultFuzzSeeds {
		f.Add(s, faultFuzzSeeds[(i+5)%len(faultFuzzSeeds)], faultFuzzSeeds[(i+9)%len(faultFuzzSeeds)])
	}
	f.Fuzz(func(t *testing.T, user, path, tls string) {
		faultFuzzUsable(t, user, path, tls)
		c := &Cluster{Name: "fuzz", Manager: "m", Stack: "ag-stack",
			Hosts:  []HostSpec{{Name: "m", Address: "10.0.0.1", User: user}, {Name: "w", Address: user}},
			Source: SourceSpec{Path: path}, Site: SiteSpec{TLSCert: tls, TLSKey: tls + "'k"}}
		sh.expect(t, dockerProbeCmd(c, "m").Line, faultFuzzArgs("env", "AG_USER="+user, "sh", "-s"))
		sh.expect(t, settingsSecretsCommand(c).Line,
			faultFuzzArgs("cd", pathpkg.Join(path, "autograder-server")), faultFuzzArgs("timeout", fmt.Sprint(settingsSecretsTimeout), "python3", "generate_secrets.py"))

		lines := faultFuzzCapture(t, c, func(ctx context.Context, h *HostRunner) {
			gatherFacts(ctx, nil, c, h)
		})
		sh.expect(t, lines[0], faultFuzzArgs("env", "AG_PEER="+user, "AG_SRC="+path, "sh", "-s"))

		lines = faultFuzzCapture(t, c, func(ctx context.Context, h *HostRunner) {
			settingsMissingSecrets(ctx, h, path)
		})
		var want [][]string
		// The checkout is not in the work dir: no stat of its password files.
		want = append(want, faultFuzzArgs("cd", path), faultFuzzArgs("cd", pathpkg.Join(path, "autograder-server")))
		for _, s := range settingsSecretFiles {
			want = append(want, faultFuzzArgs("echo", "missing="+s)) // none exist in the work dir
		}
		sh.expect(t, lines[0], want...)

		lines = faultFuzzCapture(t, c, func(ctx context.Context, h *HostRunner) {
			settingsTLSMissing(ctx, h, c)
		})
		want = nil
		for _, p := range []string{tls, tls + "'k"} {
			if st, err := os.Stat(filepath.Join(sh.work, p)); p != "" && (err != nil || !st.Mode().IsRegular()) {
				want = append(want, faultFuzzArgs("echo", p))
			}
		}
		if tls != "" {
			sh.expect(t, lines[0], want...)
		}

		lines = faultFuzzCapture(t, c, func(ctx context.Context, h *HostRunner) {
			deployCurrent(ctx, h, c)
		})
		// The path reaches the script (fixed text) only through AG_PATH.
		sh.expect(t, lines[0], faultFuzzArgs("env", "AG_PATH="+path, "sh", "-s"))
	})
}

// faultFuzzCapture runs fn against a connection that records command lines
// and answers nothing, and returns the lines.
func faultFuzzCapture(t *testing.T, c *Cluster, fn func(ctx context.Context, h *HostRunner)) []string {
	t.Helper()
	conn := &faultFuzzConn{}
	r := &Runner{Dial: faultFuzzDialer{conn}}
	env := &Env{Cluster: c, Runner: r, State: &State{}, Secrets: &Secrets{}, Limit: 1}
	fn(context.Background(), env.On("fuzz", c.Manager))
	if len(conn.lines) == 0 {
		t.Fatal("the step ran no command")
	}
	return conn.lines
}

type faultFuzzDialer struct{ c *faultFuzzConn }

func (d faultFuzzDialer) Conn(context.Context, string) (Conn, error) { return d.c, nil }

type faultFuzzConn struct{ lines []string }

func (c *faultFuzzConn) Run(_ context.Context, cmd remote.Command, _ func(remote.Line)) (remote.Result, error) {
	c.lines = append(c.lines, cmd.Line)
	if bytes.Contains(cmd.Stdin, []byte("ag_git_unsafe")) {
		return remote.Result{Stdout: []byte("unsafe=\n")}, nil // the checkout's git config is clean
	}
	return remote.Result{}, nil
}
func (c *faultFuzzConn) ReadFile(context.Context, string, bool) ([]byte, error) {
	return nil, fs.ErrNotExist
}
func (c *faultFuzzConn) WriteFile(context.Context, string, []byte, remote.WriteOptions) (string, error) {
	return "", errors.New("fuzz: no writes")
}
func (c *faultFuzzConn) Docker(context.Context) (*client.Client, error) {
	return nil, errors.New("fuzz: no docker")
}

// FuzzNFSFileLines: a checkout path the cluster file accepts gives exactly
// one /etc/exports line and one fstab line, which read back as that path.
func FuzzNFSFileLines(f *testing.F) {
	for _, s := range faultFuzzSeeds {
		f.Add(s)
	}
	f.Add("/srv/a b\\040c")
	// Accepted by the cluster file today, and it becomes a second exports line
	// sharing / with everyone: source.path must refuse control characters.
	f.Add("/srv/ag\n/ *(rw,no_root_squash)")
	f.Fuzz(func(t *testing.T, p string) {
		c := &Cluster{Name: "x", Stack: "ag-stack", Hosts: []HostSpec{{Name: "a", Address: "10.0.0.1"}}, Manager: "a"}
		c.defaults()
		c.Source.Path = p
		for _, e := range c.validate() {
			if e.Path == "source.path" {
				t.Skip("the cluster file refuses this path")
			}
		}
		fstab := edit.FstabLine("10.0.0.1", p)
		// mount(8) splits an fstab line on blanks (space, tab) only.
		fields := strings.FieldsFunc(fstab, func(r rune) bool { return r == ' ' || r == '\t' })
		if strings.Count(fstab, "\n") != 0 || len(fields) != 6 {
			t.Fatalf("fstab line for %q is %q: not one line of 6 fields", p, fstab)
		}
		if got := edit.FstabUnescape(fields[1]); got != p {
			t.Fatalf("fstab mount point %q reads back as %q", p, got)
		}
		exports := edit.ExportsLine(p, []string{"10.0.0.2"})
		if strings.ContainsAny(exports, "\n\r") {
			t.Fatalf("source.path %q is accepted but its exports line %q is several lines", p, exports)
		}
		if got := faultFuzzExportPath(exports); got != p {
			t.Fatalf("exports line %q names the folder %q, not %q", exports, got, p)
		}
	})
}

// faultFuzzExportPath reads the folder of an exports(5) line: "quoted", or
// up to the first blank. (Backslashes are taken literally: whether exportfs
// decodes \ooo inside quotes is not checked here.)
func faultFuzzExportPath(line string) string {
	if rest, ok := strings.CutPrefix(line, `"`); ok {
		raw, _, _ := strings.Cut(rest, `"`)
		return raw
	}
	raw, _, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
	return raw
}
