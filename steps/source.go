package steps

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"aginstall/remote"
)

// sourceStep clones autograder-full-stack on the manager (the guide's
// git clone --recursive) at source.ref, or verifies and moves an existing
// checkout. Local changes are reported and never discarded.
type sourceStep struct{}

func init() { register(OrderSource, sourceStep{}) }

func (sourceStep) ID() string                { return "source" }
func (sourceStep) Title() string             { return "Check out the source" }
func (sourceStep) Hosts(c *Cluster) []string { return ManagerOnly(c) }
func (sourceStep) Inputs(c *Cluster) any     { return c.Source }

// gitCmd runs git as root on any checkout: the folder may belong to
// another user (and git refuses "dubious ownership" otherwise), with none
// of the checkout's own settings that run programs (source_gitsafe.go), and no
// credential prompt may ever wait for a terminal.
const gitCmd = "GIT_TERMINAL_PROMPT=0 " + gitSafe + " "

// sourceProbeScript reads the checkout and asks the repository for the ref.
// The ls-remote waits on the network, so it runs while the checkout is read;
// the checkout's lines are held until it ends, so no two writers share
// stdout. The checkout's usual states (clean, or with the settings step's
// edits) are read with git status and ls-files (sourceQuickScript); anything
// else is read with git submodule status and foreach, whose shell scripts
// were the slow part of a review.
const sourceProbeScript = gitGuard + `p=$AG_PATH
if command -v git >/dev/null 2>&1; then
	(
		out=$(cd / && GIT_TERMINAL_PROMPT=0 timeout 60 ` + gitSafe + ` ls-remote -- "$AG_REPO" "$AG_REF" "$AG_REF^{}" 2>&1)
		echo "ls_remote_exit=$?"
		printf '%s\n' "$out" | sed 's/^/remote=/'
	) </dev/null &
else
	echo git=missing
fi
ag_checkout() {
if [ ! -e "$p" ]; then echo state=absent; return; fi
if [ -d "$p" ] && [ -z "$(ls -A "$p" 2>/dev/null)" ]; then echo state=empty; return; fi
command -v git >/dev/null 2>&1 || { echo state=unknown; return; }
# A check is read-only: git status must not refresh (write) the index.
GIT_OPTIONAL_LOCKS=0; export GIT_OPTIONAL_LOCKS
g() { ` + gitSafe + ` -C "$p" "$@"; }
top=$(g rev-parse --show-toplevel 2>/dev/null)
if [ ! -d "$p" ] || [ "$top" != "$(cd "$p" && pwd -P)" ]; then echo state=notgit; return; fi
echo state=checkout
echo "url=$(g config --get remote.origin.url)"
u=$(ag_git_unsafe "$p")
if [ -n "$u" ]; then echo "unsafe=$u"; return; fi
echo "head=$(g rev-parse -q --verify HEAD)"
echo "branch=$(g symbolic-ref -q --short HEAD)"
echo "local_ref=$(g rev-parse -q --verify "refs/remotes/origin/$AG_REF^{commit}" || g rev-parse -q --verify "$AG_REF^{commit}")"
` + sourceQuickScript + `
g submodule status --recursive 2>&1 | sed 's/^/sub=/'
g status --porcelain --untracked-files=no 2>&1 | sed 's/^/changed=/'
g submodule foreach --recursive --quiet 'git status --porcelain --untracked-files=no | sed "s|^\(..\) |\1 $displaypath/|"' 2>/dev/null | sed 's/^/changed=/'
}
checkout=$(ag_checkout)
wait
printf '%s\n' "$checkout"
`

// sourceQuickScript reads the submodules and the changed files the way git
// submodule status and foreach would print them, with one git status (its
// porcelain v2 says, per submodule, whether its commit moved and whether its
// files changed, no submodule setting hiding one) and one git status in each
// submodule whose files changed, instead of their shell scripts. It returns
// when it could; a submodule not checked out, one with its own submodules, a
// conflict, a rename or a path git would quote go on to the full reading.
// Its sub= lines carry no describe suffix, which no reader uses.
const sourceQuickScript = `if st=$(g status --porcelain=v2 --untracked-files=no --ignore-submodules=none 2>/dev/null) &&
	links=$(g ls-files --stage 2>/dev/null | grep '^160000 ' | while IFS= read -r l; do
		sha=${l#160000 }; sha=${sha%% *}; path=${l#*"	"}
		case $path in '"'*) exit 1 ;; esac
		[ -e "$p/$path/.git" ] && [ ! -e "$p/$path/.gitmodules" ] || exit 1
		printf '%s %s\n' "$sha" "$path"
	done) &&
	quick=$(printf '%s\n' "$st" | while IFS= read -r l; do
		[ -n "$l" ] || continue
		case $l in '1 '*) ;; *) exit 1 ;; esac
		xy=${l#1 }; xy=${xy%% *}; rest=${l#1 "$xy" }; sub=${rest%% *}
		path=$rest; for i in 1 2 3 4 5 6; do path=${path#* }; done
		case $path in '"'*) exit 1 ;; esac
		case $xy in ?.) xy="${xy%?} " ;; esac
		case $xy in .?) xy=" ${xy#?}" ;; esac
		printf 'changed=%s %s\n' "$xy" "$path"
		case $sub in S?M?) printf 'dirty=%s\n' "$path" ;; esac
		case $sub in SC??) printf 'moved=%s\n' "$path" ;; esac
	done); then
	printf '%s\n' "$links" | while read -r sha path; do
		[ -n "$path" ] || continue
		case "
$quick
" in *"
moved=$path
"*) printf 'sub=+%s %s\n' "$sha" "$path" ;; *) printf 'sub= %s %s\n' "$sha" "$path" ;; esac
	done
	printf '%s\n' "$quick" | grep '^changed='
	printf '%s\n' "$quick" | sed -n 's/^dirty=//p' | while IFS= read -r path; do
		` + gitSafe + ` -C "$p/$path" status --porcelain --untracked-files=no | while IFS= read -r f; do
			printf 'changed=%s %s/%s\n' "${f%"${f#??}"}" "$path" "${f#???}"
		done
	done
	return
fi`

// sourceState is what the probe says about the checkout.
type sourceState struct {
	gitMissing bool
	state      string // absent | empty | notgit | checkout
	unsafe     string // a git config key that would run a program (gitGuard)
	url        string
	head       string
	branch     string
	localRef   string
	remote     map[string]string // ref name → commit, from ls-remote
	lsRemoteOK bool
	lsRemote   string // ls-remote's output when it failed
	subs       []string
	changed    []string // tracked files changed, as "M path" (inside submodules too)
}

func parseSource(out string) sourceState {
	s := sourceState{remote: map[string]string{}}
	var lsOut []string
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "git":
			s.gitMissing = true
		case "state":
			s.state = v
		case "url":
			s.url = v
		case "unsafe":
			s.unsafe = v
		case "head":
			s.head = v
		case "branch":
			s.branch = v
		case "local_ref":
			s.localRef = v
		case "remote":
			lsOut = append(lsOut, v)
			if sha, ref, ok := strings.Cut(v, "\t"); ok && len(sha) == 40 {
				s.remote[ref] = sha
			}
		case "ls_remote_exit":
			s.lsRemoteOK = v == "0"
		case "sub":
			s.subs = append(s.subs, v)
		case "changed":
			if len(v) > 3 {
				s.changed = append(s.changed, strings.TrimSpace(v[:2])+" "+v[3:])
			}
		}
	}
	if !s.lsRemoteOK {
		s.lsRemote = strings.Join(lsOut, "\n")
	}
	return s
}

var hexRe = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// resolveRef says what source.ref is in the repository: a branch,
// a tag (peeled to its commit) or a commit id; "" kind when it is none.
func resolveRef(s sourceState, ref string) (kind, commit string) {
	if c, ok := s.remote["refs/heads/"+ref]; ok {
		return "branch", c
	}
	if c, ok := s.remote["refs/tags/"+ref+"^{}"]; ok {
		return "tag", c
	}
	if c, ok := s.remote["refs/tags/"+ref]; ok {
		return "tag", c
	}
	if hexRe.MatchString(ref) {
		if strings.HasPrefix(s.localRef, ref) {
			return "commit", s.localRef
		}
		return "commit", ""
	}
	if !s.lsRemoteOK && s.localRef != "" { // repository unreachable: trust the last fetch
		return "branch", s.localRef
	}
	return "", ""
}

// sameRepo compares remote URLs ignoring a trailing slash or .git.
func sameRepo(a, b string) bool {
	norm := func(s string) string {
		return strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "/"), ".git")
	}
	return norm(a) == norm(b)
}

// submodulesReady: every submodule checked out at its recorded commit.
func submodulesReady(subs []string) (bool, string) {
	for _, l := range subs {
		if l == "" {
			continue
		}
		switch l[0] {
		case '-':
			return false, "submodule not initialised: " + strings.Fields(l[1:])[1]
		case '+':
			return false, "submodule not at the recorded commit: " + strings.Fields(l[1:])[1]
		case 'U':
			return false, "submodule with merge conflicts: " + strings.Fields(l[1:])[1]
		}
	}
	return true, ""
}

func sourceProbeCmd(c *Cluster) remote.Command {
	return remote.Command{
		Line:  "env " + remote.Quote("AG_PATH="+c.Source.Path, "AG_REPO="+c.Source.Repo, "AG_REF="+c.Source.Ref) + " sh -s",
		Stdin: []byte(sourceProbeScript), Sudo: true,
	}
}

func (s sourceStep) Check(ctx context.Context, env *Env) []HostCheck {
	c := env.Cluster
	return checkEachHost(ctx, env, s.ID(), s.Hosts(c), func(ctx context.Context, h *HostRunner) HostCheck {
		res, err := h.Query(ctx, "inspect the checkout", sourceProbeCmd(c))
		if err != nil {
			return HostCheck{Status: Unknown, Reason: err.Error()}
		}
		src := parseSource(string(res.Stdout))
		switch {
		case src.gitMissing:
			return HostCheck{Status: notDoneStatus(env, s.ID()), Reason: "git is not installed on the manager", Fix: "aginstall apply installs it and clones " + c.Source.Repo}
		case src.state == "absent" || src.state == "empty":
			return HostCheck{Status: notDoneStatus(env, s.ID()), Reason: c.Source.Path + " holds no checkout yet", Fix: "aginstall apply clones " + c.Source.Repo}
		case src.state == "notgit":
			return HostCheck{Status: Todo, Reason: c.Source.Path + " exists and is not a git checkout", Fix: "move it away, or choose another source.path"}
		case src.unsafe != "":
			return HostCheck{Status: Drifted, Reason: unsafeGitReason(c, src.unsafe), Fix: unsafeGitFix(c, src.unsafe)}
		case !sameRepo(src.url, c.Source.Repo):
			return HostCheck{Status: Drifted, Reason: fmt.Sprintf("%s is a checkout of %s, not %s", c.Source.Path, redactRepoURL(src.url), c.Source.Repo),
				Fix: "set source.repo to that URL, or move the folder away"}
		}
		kind, want := resolveRef(src, c.Source.Ref)
		local := ""
		if len(src.changed) > 0 {
			local = fmt.Sprintf("; %d files changed locally (%s)", len(src.changed), shortList(src.changed))
		}
		if kind == "" {
			return HostCheck{Status: Todo, Reason: fmt.Sprintf("%s has no branch, tag or commit %q", c.Source.Repo, c.Source.Ref), Fix: "fix source.ref"}
		}
		if want == "" || src.head != want {
			return HostCheck{Status: notDoneStatus(env, s.ID()), Reason: fmt.Sprintf("HEAD is %s, %s %s is %s%s", shortSHA(src.head), kind, c.Source.Ref, shortSHA(want), local),
				Fix: "aginstall apply checks it out (refused while tracked files are changed)"}
		}
		if ok, why := submodulesReady(src.subs); !ok {
			return HostCheck{Status: notDoneStatus(env, s.ID()), Reason: why, Fix: "aginstall apply runs git submodule update --init --recursive"}
		}
		return HostCheck{Status: Done, Reason: fmt.Sprintf("%s %s at %s, submodules ready%s", kind, c.Source.Ref, shortSHA(want), local)}
	})
}

func (s sourceStep) Apply(ctx context.Context, env *Env) error {
	c := env.Cluster
	return env.Each(ctx, s.ID(), s.Hosts(c), func(ctx context.Context, h *HostRunner) error {
		res, err := h.Query(ctx, "inspect the checkout", sourceProbeCmd(c))
		if err != nil {
			return err
		}
		src := parseSource(string(res.Stdout))
		if src.gitMissing {
			for _, cmd := range []aptCmd{{"refresh the package lists", aptEnv + "update"}, {"install git", aptEnv + "install -y git"}} {
				if err := runApt(ctx, h, cmd); err != nil {
					return err
				}
			}
			if !h.DryRun() {
				if res, err = h.Query(ctx, "inspect the checkout", sourceProbeCmd(c)); err != nil {
					return err
				}
				src = parseSource(string(res.Stdout))
			}
		}
		fail := func(purpose, cmd string, err error, next string) error {
			return &StepError{Step: s.ID(), Host: h.Host, Purpose: purpose, Command: cmd, Err: err, Next: next}
		}
		if src.state == "notgit" {
			return fail("check "+c.Source.Path, "", errors.New("the folder exists, is not empty and is not a git checkout"),
				"move it away (aginstall never deletes it), or set source.path to another folder")
		}
		if src.unsafe != "" {
			return fail("check "+c.Source.Path+"'s git config", "", errors.New(unsafeGitReason(c, src.unsafe)), unsafeGitFix(c, src.unsafe)+", then run aginstall apply again")
		}
		if src.state == "checkout" && !sameRepo(src.url, c.Source.Repo) {
			// fetch would take code from wherever origin points now.
			return fail("check "+c.Source.Path+"'s origin", "", fmt.Errorf("%s is a checkout of %s, not %s", c.Source.Path, redactRepoURL(src.url), c.Source.Repo),
				"set source.repo to that URL if it is right, or move the folder away (aginstall never deletes it)")
		}
		kind, want := resolveRef(src, c.Source.Ref)
		lsCmd := "git ls-remote " + remote.Quote(c.Source.Repo, c.Source.Ref)
		if !src.gitMissing && !src.lsRemoteOK && src.state != "checkout" {
			return fail("reach the repository", lsCmd, errors.New(src.lsRemote),
				"check source.repo and that the manager can reach it (proxy, firewall, credentials), then run again")
		}
		if kind == "" && !src.gitMissing {
			return fail("find source.ref", lsCmd, fmt.Errorf("the repository %s has no branch, tag or commit named %q", c.Source.Repo, c.Source.Ref),
				"set source.ref to an existing branch or tag (git ls-remote "+c.Source.Repo+" lists them)")
		}
		for _, cmd := range sourceCmds(c.Source, src, kind, want) {
			if cmd.refuse != "" {
				return fail("switch to "+c.Source.Ref, "git status --porcelain", errors.New(cmd.refuse),
					"commit or stash the changes (git -C "+remote.Quote(c.Source.Path)+" stash), then run aginstall apply again; nothing was changed")
			}
			rctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
			_, err := h.Run(rctx, cmd.purpose, remote.Command{Line: cmd.line, Sudo: true})
			cancel()
			if realErr(err) {
				var se *StepError
				if errors.As(err, &se) && se.Next == "" {
					se.Next = "read git's message above; local changes are never discarded, fix them by hand, then run aginstall apply again"
				}
				return err
			}
		}
		return nil
	})
}

// unsafeGitReason says which key of the checkout's git config is refused.
func unsafeGitReason(c *Cluster, kv string) string {
	return fmt.Sprintf("%s's git config sets %q, which makes git run a program (as root, when aginstall runs git): aginstall runs no git command in it", c.Source.Path, kv)
}

func unsafeGitFix(c *Cluster, kv string) string {
	key, _, _ := strings.Cut(kv, "=")
	return fmt.Sprintf("check who wrote it, then remove it (git -C %s config --unset-all %s, or the submodule's config under .git/modules)", remote.Quote(c.Source.Path), remote.Quote(key))
}

type sourceCmd struct{ purpose, line, refuse string }

// sourceCmds plans the git commands that bring the checkout to the
// ref; a command with refuse set stops the plan (local changes in the way).
func sourceCmds(spec SourceSpec, src sourceState, kind, want string) []sourceCmd {
	path := remote.Quote(spec.Path)
	gitC := gitCmd + "-C " + path + " "
	subs := sourceCmd{"initialise the submodules", gitC + "submodule update --init --recursive", ""}
	if src.state != "checkout" {
		if kind == "commit" {
			return []sourceCmd{
				{"clone " + spec.Repo, gitCmd + "clone --recursive -- " + remote.Quote(spec.Repo, spec.Path), ""},
				{"check out " + spec.Ref, gitC + "checkout --detach " + remote.Quote(spec.Ref), ""},
				subs,
			}
		}
		return []sourceCmd{{"clone " + spec.Repo + " at " + spec.Ref,
			gitCmd + "clone --recursive --branch " + remote.Quote(spec.Ref) + " -- " + remote.Quote(spec.Repo, spec.Path), ""}}
	}
	if want != "" && src.head == want {
		if ok, _ := submodulesReady(src.subs); ok {
			return nil
		}
		return []sourceCmd{subs}
	}
	var stash []sourceCmd
	if files := changedFiles(src); len(files) > 0 {
		var foreign []string
		owned := map[string]bool{}
		for _, f := range SettingsOwnedFiles() {
			owned[f] = true
		}
		for _, f := range files {
			if !owned[f] {
				foreign = append(foreign, f)
			}
		}
		if len(foreign) > 0 {
			return []sourceCmd{{refuse: fmt.Sprintf("%s has local changes to tracked files (%s); switching to %s %s could lose them",
				spec.Path, shortList(foreign), kind, spec.Ref)}}
		}
		// Only aginstall's own edits, which the settings step writes again
		// after the switch: stash them (kept, never discarded).
		stash = stashCmds(spec, src, files)
	}
	var checkout string
	switch kind {
	case "branch":
		checkout = gitC + "checkout " + remote.Quote(spec.Ref) + " && " + gitC + "merge --ff-only " + remote.Quote("origin/"+spec.Ref)
	case "tag":
		checkout = gitC + "checkout --detach " + remote.Quote("refs/tags/"+spec.Ref)
	default:
		checkout = gitC + "checkout --detach " + remote.Quote(spec.Ref)
	}
	return append(stash,
		sourceCmd{"fetch " + spec.Repo, gitC + "fetch --tags origin", ""},
		sourceCmd{"check out " + kind + " " + spec.Ref, checkout, ""},
		subs)
}

// subPaths are the submodule paths from `git submodule status`.
func subPaths(src sourceState) []string {
	var out []string
	for _, l := range src.subs {
		if f := strings.Fields(strings.TrimLeft(l, "-+U ")); len(f) >= 2 {
			out = append(out, f[1])
		}
	}
	return out
}

// changedFiles lists the changed tracked files; a submodule's own
// entry is left out (its files are listed, and its commit is never lost).
func changedFiles(src sourceState) []string {
	subs := map[string]bool{}
	for _, p := range subPaths(src) {
		subs[p] = true
	}
	var out []string
	for _, c := range src.changed {
		_, path, _ := strings.Cut(c, " ")
		if !subs[path] {
			out = append(out, path)
		}
	}
	return out
}

// stashCmds stashes files in the repository (checkout or
// submodule) that holds each, with a message saying why.
func stashCmds(spec SourceSpec, src sourceState, files []string) []sourceCmd {
	byRepo := map[string][]string{}
	var repos []string
	for _, f := range files {
		repo := ""
		for _, p := range subPaths(src) {
			if strings.HasPrefix(f, p+"/") && len(p) > len(repo) {
				repo = p
			}
		}
		if _, seen := byRepo[repo]; !seen {
			repos = append(repos, repo)
		}
		byRepo[repo] = append(byRepo[repo], strings.TrimPrefix(f, repo+"/"))
	}
	var out []sourceCmd
	for _, repo := range repos {
		dir := spec.Path
		if repo != "" {
			dir += "/" + repo
		}
		args := append([]string{"stash", "push", "-m", "aginstall: its own edits, before switching to " + spec.Ref, "--"}, byRepo[repo]...)
		out = append(out, sourceCmd{"stash aginstall's own edits in " + dir + " (git stash list shows them)",
			// a stash is a commit: a fresh server's root has no git identity
			gitCmd + "-c user.name=aginstall -c user.email=aginstall@localhost -C " + remote.Quote(dir) + " " + remote.Quote(args...), ""})
	}
	return out
}

func shortSHA(sha string) string {
	if sha == "" {
		return "unknown"
	}
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func shortList(items []string) string {
	if len(items) > 5 {
		return strings.Join(items[:5], ", ") + fmt.Sprintf(" and %d more", len(items)-5)
	}
	return strings.Join(items, ", ")
}
