// Command uiflood is the bench's UI-under-a-flood measurement from outside
// the ui package: the real wizard (ui.NewModel) is walked to a running apply
// like an operator would (enter, enter), the fake Backend hands over the
// step's real sink, and 10 hosts × 1,000 lines/s for 10 s (simulated: 20
// frames a second, 50 lines per host per frame, 100,000 lines) go through
// that sink and the model's Update + View, frame by frame. It prints the
// p50/p99/max frame time and the peak HeapInuse per run.
package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"aginstall/internal/bench"
	"aginstall/steps"
	"aginstall/ui"
)

func main() {
	runs := flag.Int("runs", 5, "runs")
	hosts := flag.Int("hosts", 10, "hosts")
	rate := flag.Int("rate", 1000, "lines per second per host")
	secs := flag.Int("seconds", 10, "simulated seconds of output")
	debug := flag.Bool("screen", false, "print the last screen")
	flag.Parse()
	for i := 0; i < *runs; i++ {
		r, err := once(*hosts, *rate, *secs, *debug)
		if err != nil {
			fmt.Fprintln(os.Stderr, "uiflood:", err)
			os.Exit(1)
		}
		fmt.Printf("run %d: frames %d lines %d p50 %.3f ms p99 %.3f ms max %.3f ms peak-heap-inuse %.1f MB\n",
			i+1, r.frames, r.lines, ms(r.p50), ms(r.p99), ms(r.max), float64(r.peak)/(1<<20))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type result struct {
	frames, lines int
	p50, p99, max time.Duration
	peak          uint64
}

// frameMsg stands for the program's once-a-frame wake-up: like any message
// that is not a key, it makes Update apply the queued events first.
type frameMsg struct{}

func once(nHosts, rate, secs int, debug bool) (result, error) {
	dir, err := os.MkdirTemp("", "uiflood")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	path, err := writeCluster(dir, nHosts)
	if err != nil {
		return result{}, err
	}
	c, err := steps.LoadCluster(path)
	if err != nil {
		return result{}, err
	}
	be := &floodBackend{cluster: c, sinks: make(chan steps.Sink, 1)}
	d := &driver{m: ui.NewModel(ui.Options{Backend: be, Mode: ui.ModeInstall, ClusterPath: path})}
	d.run(d.m.Init())
	d.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	var sink steps.Sink
	for i := 0; i < 10 && sink == nil; i++ {
		d.send(tea.KeyPressMsg{Code: tea.KeyEnter})
		select {
		case sink = <-be.sinks:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if sink == nil {
		return result{}, fmt.Errorf("the wizard did not start applying a step after 10 enters; screen:\n%s", d.view())
	}
	step := "discover"
	if s := steps.All(); len(s) > 0 {
		step = s[0].ID()
	}
	names := c.HostNames()
	perFrame := rate / 20
	frames := secs * 20
	var times []time.Duration
	var peak uint64
	var ms runtime.MemStats
	line := 0
	for f := 0; f < frames; f++ {
		for _, h := range names {
			for j := 0; j < perFrame; j++ {
				line++
				sink(steps.HostOutput{Step: step, Host: h, Stream: "stdout",
					Text: fmt.Sprintf("Get:%d http://10.213.0.1:8080/apt ./ libfoo%d 1.2.3-4 [%d kB]", line, line, line%977)})
			}
			sink(steps.HostProgress{Step: step, Host: h, Purpose: "installing packages", Done: f, Total: frames})
		}
		t := time.Now()
		d.m.Update(frameMsg{})
		_ = d.view()
		times = append(times, time.Since(t))
		if f%10 == 0 || f == frames-1 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if debug {
		fmt.Println(d.view())
	}
	if v := d.view(); !strings.Contains(v, fmt.Sprintf("libfoo%d ", line)) && !strings.Contains(v, "libfoo") {
		return result{}, fmt.Errorf("the flood's lines do not show on the screen:\n%s", v)
	}
	return result{frames: frames, lines: line, p50: bench.Percentile(times, 50), p99: bench.Percentile(times, 99),
		max: bench.Percentile(times, 100), peak: peak}, nil
}

// driver runs the model synchronously, as the program would: each command's
// message is fed back; commands that do not answer at once (timers) are dropped.
type driver struct{ m tea.Model }

func (d *driver) send(msg tea.Msg) {
	m, cmd := d.m.Update(msg)
	d.m = m
	d.run(cmd)
}

func (d *driver) view() string {
	v := d.m.View()
	return fmt.Sprint(v.Content)
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-ch:
	case <-time.After(150 * time.Millisecond):
		return
	}
	switch msg := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
		return
	case tea.QuitMsg:
		return
	}
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		for i := 0; i < v.Len(); i++ {
			d.run(v.Index(i).Interface().(tea.Cmd))
		}
		return
	}
	if strings.HasSuffix(reflect.TypeOf(msg).String(), "TickMsg") {
		return // spinner and cursor timers
	}
	d.send(msg)
}
