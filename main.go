// Command aginstall installs autograder.io on a Docker Swarm of Linux servers
// over SSH, step by step, and keeps it healthy afterwards.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"aginstall/internal/hosttext"
	"aginstall/steps"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes: 0 done, 1 a step failed (review: something is not done), 2 bad
// input or a data move without consent (nothing touched), 130 interrupted.
const (
	exitFailed      = 1
	exitBadInput    = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	opt, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aginstall:", err)
		fmt.Fprintln(os.Stderr, "run `aginstall --help` for the commands and flags")
		return exitBadInput
	}
	if opt.help {
		fmt.Print(usage)
		return 0
	}
	if opt.version {
		fmt.Println("aginstall", version)
		return 0
	}
	ctx, stop := interruptible()
	defer stop()

	switch opt.command {
	case "plan":
		err = cmdPlan(ctx, opt)
	case "apply":
		err = cmdApply(ctx, opt)
	case "review":
		err = cmdReview(ctx, opt)
	case "backup":
		err = cmdBackup(ctx, opt)
	case "restore":
		err = cmdRestore(ctx, opt)
	case "remove-node":
		err = cmdRemoveNode(ctx, opt)
	case "move-database":
		err = cmdMoveDatabase(ctx, opt)
	case "", "wizard", "relabel":
		err = cmdWizard(ctx, opt)
	default:
		fmt.Fprintf(os.Stderr, "aginstall: unknown command %q\n%s", opt.command, usage)
		return exitBadInput
	}
	return exitCode(ctx, err)
}

func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return 0
	}
	var ie *steps.InputError
	var ies steps.InputErrors
	var ce *steps.ConsentError
	switch {
	case errors.Is(err, errNotAllDone):
		return exitFailed // review said it all already
	case errors.As(err, &ie), errors.As(err, &ies), errors.As(err, &ce), errors.Is(err, errBadInput):
		fmt.Fprintln(os.Stderr, err) // about the operator's input, quoted as it is
		return exitBadInput
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "aginstall: interrupted; the state is saved, run the same command again to continue")
		return exitInterrupted
	default:
		fmt.Fprintln(os.Stderr, hosttext.Escape(err.Error())) // errors quote hosts
		return exitFailed
	}
}

// interruptible cancels the context on the first Ctrl-C (running remote
// commands are killed, the state is saved) and exits 130 at once on the second.
func interruptible() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range ch {
			n++
			if n == 1 {
				fmt.Fprintln(os.Stderr, "\naginstall: stopping: cancelling remote commands and saving the state (Ctrl-C again to quit at once)")
				cancel()
				continue
			}
			os.Exit(exitInterrupted)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
