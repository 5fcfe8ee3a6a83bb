package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

var errBadInput = errors.New("bad input")

type options struct {
	command           string
	file              string
	yes               bool
	json              bool
	acceptNewHostKeys bool
	knownHosts        string
	sshConfig         string
	sudoPasswordStdin bool
	accessible        bool
	parallel          int
	only              string
	breakLock         bool
	allowDataMove     bool
	help, version     bool
	// backup/restore (commands_backup.go)
	output             string
	allowVersionChange bool
	arg                string // restore FILE
}

const usage = `aginstall — install autograder.io on a Docker Swarm of Linux servers over SSH.

Usage:
  aginstall [flags]            the wizard (offers to resume when a state file exists)
  aginstall plan [flags]       dry run: every step's exact commands and file diffs, per host
  aginstall apply [flags]      run every pending step without the wizard
  aginstall review [flags]     read-only checklist: every step's check on every host
  aginstall relabel [flags]    re-label the nodes of a running cluster (wizard)
  aginstall backup [-o PATH]   dump the database into a backup file (on this machine)
  aginstall restore FILE       replace the database with a backup's (asks first)
  aginstall remove-node NAME   drain a host, take it out of the swarm, the NFS export and the cluster file
  aginstall move-database NAME move the database label and its data to host NAME (backup, restore, checks)

Flags:
  -f, --file PATH              cluster file (default aginstall.yaml)
  --yes                        apply: do not ask before changing hosts
  --json                       review/plan: print JSON
  --accept-new-host-keys       accept host keys never seen before (never a changed key)
  --known-hosts PATH           known_hosts file (default ~/.ssh/known_hosts)
  --ssh-config PATH            ssh_config file (default ~/.ssh/config; "none" for none)
  --sudo-password-stdin        read the sudo password from the first line of standard input
  --only STEP                  apply/plan/review only this step (its ID, see review)
  --parallel N                 hosts worked on at once within a step (default 8)
  --break-lock                 apply: break a lock whose holder is no longer running
  -o, --output PATH            backup: the file or folder to write (default: backups/ beside the cluster file)
  --allow-version-change       restore: restore a dump of an older PostgreSQL major version (upgrade)
  --allow-data-move            apply: consent to a change that leaves data behind or
                               converts it (a data label moving to another node, a new
                               postgres image on an existing database); refused without it
  --accessible                 wizard: plain prompts for screen readers
  --version, --help

Exit codes: 0 done, 1 a step failed (the log path is printed), 2 bad input or a data
move without --allow-data-move (nothing was touched), 130 interrupted (state saved;
run again to continue).
review: 0 every check is done; 1 some check is to do, drifted, unknown or failed;
2 bad input. --json prints the same report whatever the code.
`

// parseArgs accepts the command anywhere among the flags.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("aginstall", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.file, "file", "aginstall.yaml", "")
	fs.StringVar(&o.file, "f", "aginstall.yaml", "")
	fs.BoolVar(&o.yes, "yes", false, "")
	fs.BoolVar(&o.yes, "y", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.acceptNewHostKeys, "accept-new-host-keys", false, "")
	fs.StringVar(&o.knownHosts, "known-hosts", "", "")
	fs.StringVar(&o.sshConfig, "ssh-config", "", "")
	fs.BoolVar(&o.sudoPasswordStdin, "sudo-password-stdin", false, "")
	fs.BoolVar(&o.accessible, "accessible", false, "")
	fs.IntVar(&o.parallel, "parallel", 8, "")
	fs.StringVar(&o.only, "only", "", "")
	fs.BoolVar(&o.breakLock, "break-lock", false, "")
	fs.StringVar(&o.output, "output", "", "")
	fs.StringVar(&o.output, "o", "", "")
	fs.BoolVar(&o.allowVersionChange, "allow-version-change", false, "")
	fs.BoolVar(&o.allowDataMove, "allow-data-move", false, "")
	fs.BoolVar(&o.help, "help", false, "")
	fs.BoolVar(&o.help, "h", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%v", err)
		}
		args = fs.Args()
		if len(args) > 0 {
			rest = append(rest, args[0])
			args = args[1:]
		}
	}
	switch len(rest) {
	case 0:
	case 1:
		o.command = rest[0]
	case 2:
		if !commandTakesArg(rest[0]) {
			return nil, fmt.Errorf("one command at a time, got %s", strings.Join(rest, " "))
		}
		o.command, o.arg = rest[0], rest[1]
	default:
		return nil, fmt.Errorf("one command at a time, got %s", strings.Join(rest, " "))
	}
	if o.parallel < 1 || o.parallel > 64 {
		return nil, fmt.Errorf("--parallel %d is out of range: use 1-64", o.parallel)
	}
	return o, nil
}
