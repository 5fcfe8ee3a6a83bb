// Command fanout is the bench's aginstall side of "connect and run one
// command": a fresh remote.Pool per run, Conn + Run("true") on every lab host
// at once, Close. It prints one line per run: "<seconds> <handshakes>".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"aginstall/internal/bench"
	"aginstall/remote"
)

func main() {
	labPath := flag.String("lab", "testdata/lab/out/lab.json", "lab.json")
	runs := flag.Int("runs", 5, "runs")
	cmd := flag.String("cmd", "true", "command run on every host")
	maxHS := flag.Int("max-handshakes", 0, "remote.Options.MaxHandshakes (0: the product's default)")
	flag.Parse()
	lab, err := bench.LoadLab(*labPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(2)
	}
	for i := 0; i < *runs; i++ {
		d, hs, err := once(lab, *cmd, *maxHS)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fanout:", err)
			os.Exit(1)
		}
		fmt.Printf("%.3f %d\n", d.Seconds(), hs)
	}
}

func once(lab *bench.Lab, cmd string, maxHS int) (time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	pool := remote.NewPool(lab.Targets(), remote.Options{
		SSHConfigFile: "none", KnownHostsFile: lab.KnownHosts, MaxHandshakes: maxHS,
	})
	defer pool.Close()
	var wg sync.WaitGroup
	errs := make(chan error, len(lab.Hosts))
	for _, h := range lab.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pool.Conn(ctx, h.Name)
			if err == nil {
				_, err = c.Run(ctx, remote.Command{Line: cmd}, nil)
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", h.Name, err)
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	return d, pool.Handshakes(), nil
}
