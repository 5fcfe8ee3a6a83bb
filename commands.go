package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"aginstall/steps"
)

// errNotAllDone makes review exit 1: some check is to do, drifted, unknown
// or failed. Monitoring reads the exit code; the report says which.
var errNotAllDone = errors.New("review: not every check is done")

// reviewExit is errNotAllDone unless every check of every step is done (a
// step the operator skipped counts as done: they decided).
func reviewExit(st *steps.State, reports []steps.StepReport) error {
	for _, r := range reports {
		if p := st.Get(r.ID); p != nil && p.Status == steps.Skipped {
			continue
		}
		for _, c := range r.Checks {
			if c.Status != steps.Done && c.Status != steps.Skipped {
				return errNotAllDone
			}
		}
		if len(r.Checks) == 0 {
			return errNotAllDone
		}
	}
	return nil
}

func cmdReview(ctx context.Context, o *options) error {
	p := newPrinter(os.Stderr, false)
	s, err := open(ctx, o, p.sink)
	if err != nil {
		return err
	}
	defer s.close()
	reports := s.engine.Review(ctx)
	if o.json {
		out := struct {
			Cluster string             `json:"cluster"`
			Steps   []steps.StepReport `json:"steps"`
		}{s.cluster.Name, reports}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
		return reviewExit(s.env.State, reports)
	}
	for _, r := range reports {
		for _, c := range r.Checks {
			line := fmt.Sprintf("%s | %s | %s: %s", c.Host, r.ID, c.Status, c.Reason)
			if c.Fix != "" && c.Status != steps.Done {
				line += " — fix: " + c.Fix
			}
			fmt.Println(line)
		}
		if r.Note != "" {
			fmt.Printf("- | %s | %s\n", r.ID, r.Note)
		}
	}
	return reviewExit(s.env.State, reports)
}

func cmdPlan(ctx context.Context, o *options) error {
	p := newPrinter(os.Stderr, false)
	s, err := open(ctx, o, p.sink)
	if err != nil {
		return err
	}
	defer s.close()
	s.env.AllowDataMove = o.allowDataMove
	records, planErr := s.engine.Plan(ctx)
	var planned []steps.Record
	for _, r := range records {
		if r.Mutating {
			planned = append(planned, r)
		}
	}
	if o.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(planned); err != nil {
			return err
		}
		return planErr
	}
	printPlan(planned)
	// Every step gets a line, so a step with nothing to change is seen to have
	// been checked, not forgotten.
	for _, st := range s.engine.Steps {
		n := 0
		for _, r := range planned {
			if r.Step == st.ID() {
				n++
			}
		}
		msg := "nothing to change"
		if n > 0 {
			msg = fmt.Sprintf("%d change(s) planned", n)
		}
		fmt.Printf("- | %s | %s: %s\n", st.ID(), st.Title(), msg)
	}
	// What apply would refuse, said before the operator runs it.
	for _, c := range steps.DataChanges(ctx, s.env, s.engine.Steps) {
		consent := "apply refuses this without --allow-data-move"
		if o.allowDataMove {
			consent = "consented with --allow-data-move"
		}
		fmt.Printf("- | %s | %s: %s; the safe way: %s\n", c.Step, consent, c.What, c.SafeWay)
	}
	return planErr
}

func printPlan(planned []steps.Record) {
	for _, r := range planned {
		fmt.Printf("%s | %s | %s: %s\n", r.Host, r.Step, r.Purpose, r.Command)
		if r.Diff != "" {
			for _, l := range strings.Split(strings.TrimRight(r.Diff, "\n"), "\n") {
				fmt.Printf("%s | %s |     %s\n", r.Host, r.Step, l)
			}
		}
	}
}

func cmdApply(ctx context.Context, o *options) error {
	p := newPrinter(os.Stdout, true)
	s, err := open(ctx, o, p.sink)
	if err != nil {
		return err
	}
	defer s.close()
	lock, err := acquireLock(s.cluster, o.breakLock)
	if err != nil {
		return err
	}
	defer lock.release()
	if !o.yes {
		if !isTerminal() {
			return fmt.Errorf("%w: apply changes the hosts; run `aginstall plan` to see what it would do, then `aginstall apply --yes`", errBadInput)
		}
		if !askYes(fmt.Sprintf("Apply every pending step to the %d hosts of %s?", len(s.cluster.Hosts), s.cluster.Name)) {
			return fmt.Errorf("nothing applied")
		}
	}
	s.env.AllowDataMove = o.allowDataMove
	s.env.Runner.Log.Note("apply started by aginstall %s", version)
	if err := s.engine.Apply(ctx); err != nil {
		return fmt.Errorf("%w\nthe full log is %s", err, s.env.Runner.Log.Path)
	}
	fmt.Printf("- | apply | every step is done; the log is %s\n", s.env.Runner.Log.Path)
	if note := editedDuringRun(s.cluster); note != "" {
		fmt.Printf("- | apply | %s\n", note)
	}
	return nil
}

// editedDuringRun says which keys of the cluster file were edited outside
// while apply ran: the steps used the file as it was read at the start, so
// the hosts lack those edits, though every step is done.
func editedDuringRun(c *steps.Cluster) string {
	res, err := steps.RefreshCluster(c)
	switch {
	case err != nil:
		return fmt.Sprintf("%s could not be read again after the run: %s", c.Path, strings.SplitN(err.Error(), "\n", 2)[0])
	case len(res.Taken) == 0:
		return ""
	}
	return fmt.Sprintf("%s changed while apply ran (%s): this run used it as it was before; run aginstall apply again to apply the edit",
		c.Path, strings.Join(res.Taken, ", "))
}
