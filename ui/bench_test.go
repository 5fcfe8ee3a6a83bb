package ui

import (
	"fmt"
	"testing"

	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// BenchmarkFlood: 10 hosts each printing 1,000 lines a second. One frame is
// what arrives in frameInterval (50 ms: 50 lines per host), applied by the
// real Update and drawn by the real View at 120×40. Reports ns/frame and
// allocations of Update+View alone; the budget is well under 16 ms.
func BenchmarkFlood(b *testing.B) {
	be := newFakeBackend()
	m := newModel(Options{Backend: be, ClusterPath: "bench.yaml"})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.cluster = labCluster("bench.yaml")
	var hosts []string
	for i := 0; i < 10; i++ {
		hosts = append(hosts, fmt.Sprintf("node%02d", i))
	}
	rs := &runScreen{queue: []string{"docker"}}
	m.screen = rs
	m.busy = "applying docker"
	m.apply(steps.StepStarted{Step: "docker", Title: "Install Docker", Mode: "apply", Hosts: hosts})
	perHost := int(frameInterval.Seconds() * 1000) // lines per host per frame at 1,000 lines/s
	line := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The hosts' output arrives outside the frame: only Update and View
		// are timed, as the program would run them.
		b.StopTimer()
		for _, h := range hosts {
			for j := 0; j < perHost; j++ {
				line++
				m.q.sink(steps.HostOutput{Step: "docker", Host: h, Stream: "stdout",
					Text: fmt.Sprintf("Get:%d http://deb.debian.org/debian bookworm/main amd64 libfoo%d amd64 1.2.3-4 [%d kB]", line, line, line%977)})
			}
			m.q.sink(steps.HostProgress{Step: "docker", Host: h, Purpose: "installing packages", Done: i % 100, Total: 100})
		}
		b.StartTimer()
		m.Update(drainMsg{})
		_ = m.View()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/frame")
	b.ReportMetric(float64(perHost*len(hosts)), "lines/frame")
	for _, h := range hosts {
		if n := m.logs[h].lines.len(); n > logLines {
			b.Fatalf("%s holds %d lines, more than %d", h, n, logLines)
		}
	}
}
