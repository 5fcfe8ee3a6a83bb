// Command reviewprof runs what `aginstall review` runs (every host connected
// once, its key checked by that handshake, then every step's Check through
// the engine) with a CPU profile, and prints where
// the wall time goes: the scan, each step, and how many remote actions each
// step made per host. It mirrors main's open(); it changes nothing on hosts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"aginstall/internal/bench"
	"aginstall/remote"
	"aginstall/steps"
)

func main() {
	file := flag.String("f", "testdata/lab/out/aginstall.yaml", "cluster file")
	kh := flag.String("known-hosts", "testdata/lab/out/known_hosts", "known_hosts")
	prof := flag.String("cpuprofile", "", "write a CPU profile here")
	parallel := flag.Int("parallel", 8, "hosts at once within a step (aginstall's --parallel)")
	flag.Parse()
	if err := run(*file, *kh, *prof, *parallel); err != nil {
		fmt.Fprintln(os.Stderr, "reviewprof:", err)
		os.Exit(1)
	}
}

func run(file, kh, prof string, parallel int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	c, err := steps.LoadCluster(file)
	if err != nil {
		return err
	}
	pool := remote.NewPool(steps.Targets(c), remote.Options{SSHConfigFile: "none", KnownHostsFile: kh})
	defer pool.Close()
	// As aginstall's verifyHostKeys: every host at once, one handshake each.
	var wg sync.WaitGroup
	errs := make([]error, len(c.Hosts))
	for i, h := range c.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = pool.Conn(ctx, h.Name)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	connected := time.Since(start)
	durations := map[string]time.Duration{}
	env, err := steps.NewEnv(c, pool, func(e steps.Event) {
		if f, ok := e.(steps.StepFinished); ok {
			durations[f.Step] = f.Duration
		}
	})
	if err != nil {
		return err
	}
	defer env.Runner.Log.Close()
	env.Limit = parallel
	en := &steps.Engine{Steps: steps.All(), Env: env}
	reports := en.Review(ctx)
	total := time.Since(start)

	// Remote actions per step and host, and the slowest host's summed time.
	type tally struct {
		n   map[string]int
		dur map[string]time.Duration
	}
	per := map[string]*tally{}
	for _, r := range env.Runner.Records() {
		t := per[r.Step]
		if t == nil {
			t = &tally{n: map[string]int{}, dur: map[string]time.Duration{}}
			per[r.Step] = t
		}
		t.n[r.Host]++
		t.dur[r.Host] += r.Duration
	}
	fmt.Printf("hosts %d  total %.3f s  connect %.3f s  handshakes %d\n",
		len(c.Hosts), total.Seconds(), connected.Seconds(), pool.Handshakes())
	fmt.Printf("%-10s %8s %8s %10s  %s\n", "step", "wall s", "status", "actions/h", "kinds")
	for _, r := range reports {
		t := per[r.ID]
		maxN := 0
		if t != nil {
			for _, n := range t.n {
				maxN = max(maxN, n)
			}
		}
		fmt.Printf("%-10s %8.3f %8s %10d  %s\n", r.ID, durations[r.ID].Seconds(), r.Status, maxN, kinds(env.Runner.Records(), r.ID))
	}
	fmt.Println("\nper purpose (remote actions that took 50 ms or more on some host):")
	purposes(env.Runner.Records(), start)
	return nil
}

// purposes prints, for each step and purpose, how many hosts ran it, the
// median and slowest time, and when (since the start) the first began and
// the last ended: where the wall time goes.
func purposes(recs []steps.Record, t0 time.Time) {
	type span struct {
		ds         []time.Duration
		first, end time.Time
	}
	var order []string
	by := map[string]*span{}
	for _, r := range recs {
		k := r.Step + " | " + r.Purpose
		s := by[k]
		if s == nil {
			s = &span{first: r.Time}
			by[k] = s
			order = append(order, k)
		}
		s.ds = append(s.ds, r.Duration)
		if r.Time.Before(s.first) {
			s.first = r.Time
		}
		if e := r.Time.Add(r.Duration); e.After(s.end) {
			s.end = e
		}
	}
	for _, k := range order {
		s := by[k]
		if bench.Percentile(s.ds, 100) < 50*time.Millisecond {
			continue
		}
		fmt.Printf("  %-60s n=%-3d median %6.3f s  max %6.3f s  from %6.3f s to %6.3f s\n", k, len(s.ds),
			bench.Median(s.ds).Seconds(), bench.Percentile(s.ds, 100).Seconds(), s.first.Sub(t0).Seconds(), s.end.Sub(t0).Seconds())
	}
}

// kinds counts one host's actions of a step by kind (the first host seen).
func kinds(recs []steps.Record, step string) string {
	host := ""
	n := map[string]int{}
	for _, r := range recs {
		if r.Step != step {
			continue
		}
		if host == "" {
			host = r.Host
		}
		if r.Host == host {
			n[r.Kind]++
		}
	}
	var ks []string
	for k := range n {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	s := ""
	for _, k := range ks {
		s += fmt.Sprintf("%s=%d ", k, n[k])
	}
	return s
}
