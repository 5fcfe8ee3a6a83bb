package hosttext

import (
	"os"
	"strings"
	"testing"
)

// Real apt output, as the runner receives it over SSH (dpkg still writes
// through apt's own pty: "\r\n" and redrawn progress) and through a terminal:
// every line collapses to what a terminal finally shows, with no control left.
func TestCleanRealOutput(t *testing.T) {
	for _, name := range []string{"apt-install-docker.raw", "apt-install-docker-tty.raw"} {
		t.Run(name, func(t *testing.T) { checkRealOutput(t, name) })
	}
}

func checkRealOutput(t *testing.T, name string) {
	data, err := os.ReadFile("../../testdata/hostoutput/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\r") {
		t.Fatalf("%s has no carriage return: not the capture this test is about", name)
	}
	lines := strings.Split(string(data), "\n")
	var shown []string
	for _, l := range lines {
		out := Clean(l)
		checkClean(t, l, out)
		shown = append(shown, out)
	}
	all := strings.Join(shown, "\n")
	wants := []string{"Reading package lists..."}
	if strings.Contains(name, "tty") {
		wants = []string{"Reading package lists... Done"}
	}
	for _, want := range append(wants,
		"(Reading database ... 9539 files and directories currently installed.)",
		"Setting up docker.io (20.10.24+dfsg1-1+deb12u1+b6) ...",
	) {
		if !strings.Contains(all, want+"\n") {
			t.Errorf("the cleaned output lacks the line %q", want)
		}
	}
	if strings.Contains(all, "Reading package lists... 0%") || strings.Contains(all, "(Reading database ... 5%") {
		t.Error("a progress state a terminal overwrote is still shown")
	}
}
