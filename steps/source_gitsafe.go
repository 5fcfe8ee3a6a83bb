package steps

import (
	"errors"
	"fmt"
	"strings"
)

// Git runs as root (through sudo) on a checkout that other people may write:
// with nfs.clients: * and no_root_squash anyone who can mount the export can,
// and so can the checkout's owner. Git reads the checkout's own .git/config,
// and some of its keys name programs git runs. Running git as the checkout's
// owner instead would not help: the checkout is root's (cloned through sudo),
// and the NFS writer writes as root. So every git call switches off, with -c
// (which wins over every config file and reaches submodules through
// GIT_CONFIG_PARAMETERS), each key that runs a program for the commands we use:
//   - core.fsmonitor (status, checkout, anything that reads the index)
//   - core.hooksPath=/dev/null: no .git/hooks (checkout, merge, fetch's
//     reference-transaction, stash)
//   - core.sshCommand, core.askPass, credential.helper (fetch, clone,
//     ls-remote; credential.helper= empties the list: private repositories
//     use an ssh key in root's ~/.ssh)
//   - protocol.allow=never but https, http and ssh: no ext:: (runs a
//     command), no file:// (runs remote.*.uploadpack locally), no git://
//   - http.sslVerify=true: a config cannot turn off TLS checks.
//
// Keys whose names the attacker chooses cannot be switched off that way:
// filter.<driver>.clean/smudge/process (run by status and checkout on files
// .git/info/attributes points at), diff and merge drivers, include.path (a
// config file from anywhere), submodule.<name>.update=!command. For those,
// gitGuard reads the checkout's config files (reading runs nothing) and the
// step refuses the checkout while one is set. core.pager and core.editor are
// never started: no git call here has a terminal or opens an editor.
const gitSafe = "git -c safe.directory='*' -c core.fsmonitor=false -c core.hooksPath=/dev/null " +
	"-c core.sshCommand=ssh -c core.askPass= -c credential.helper= -c http.sslVerify=true " +
	"-c protocol.allow=never -c protocol.https.allow=always -c protocol.http.allow=always -c protocol.ssh.allow=always"

// gitGuard defines ag_git_unsafe DIR: it prints the first key of DIR's git
// config files (the checkout's and every submodule's) that would run a
// program the -c flags of gitSafe cannot switch off, and nothing when there
// is none. It runs from / so that no repository's config is read but the files named.
const gitGuard = `ag_git_unsafe() {
	ag_gd=$1/.git
	[ -f "$ag_gd" ] && ag_gd=$(cd "$1" && cd "$(sed -n 's/^gitdir: //p' .git)" && pwd -P)
	(cd / && { [ -f "$ag_gd/config" ] && printf '%s\n' "$ag_gd/config"; find "$ag_gd/modules" -type f -name config 2>/dev/null; } |
		while IFS= read -r ag_f; do ` + gitSafe + ` config --file "$ag_f" --no-includes --list 2>/dev/null; done |
		grep -iE '^(filter\.|include\.|includeif\.|diff\.[^=]*\.(command|textconv)=|diff\.external=|merge\.[^=]*\.driver=|submodule\.[^=]*\.update=!)' | head -n 1 | cut -c1-200)
}
`

// errNoCheckout: the checkout's folder has no .git yet. The source step
// makes it, so a step that reads the checkout has work to do, not an unknown.
var errNoCheckout = errors.New("no checkout yet")

// checkGitConfigScript is gitGuard's run on $AG_PATH: "nocheckout" when
// there is no repository there, else "unsafe=KEY" (KEY empty when safe).
const checkGitConfigScript = gitGuard + `[ -e "$AG_PATH/.git" ] || { echo nocheckout; exit 0; }
u=$(ag_git_unsafe "$AG_PATH"); printf 'unsafe=%s\n' "$u"
`

// gitConfigAnswer reads checkGitConfigScript's line.
func gitConfigAnswer(c *Cluster, out string) error {
	if strings.TrimSpace(out) == "nocheckout" {
		return fmt.Errorf("%w at %s", errNoCheckout, c.Source.Path)
	}
	kv, ok := strings.CutPrefix(strings.TrimSpace(out), "unsafe=")
	switch {
	case !ok:
		return fmt.Errorf("unexpected answer %q from the git config check", out)
	case kv != "":
		return fmt.Errorf("%s; %s", unsafeGitReason(c, kv), unsafeGitFix(c, kv))
	}
	return nil
}
