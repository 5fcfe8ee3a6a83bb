package hosttext

import (
	"os"
	"strings"
	"testing"
)

// Real apt output without a terminal (the runner's case) has nothing to
// clean: Clean leaves every line as it is.
func TestCleanRealOutputWithoutTerminal(t *testing.T) {
	data, err := os.ReadFile("../../testdata/hostoutput/apt-install-docker.raw")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if got := Clean(l); got != l {
			t.Errorf("line %d changed: %q → %q", i+1, l, got)
		}
	}
}

// Real apt output through a terminal: every line collapses to what the
// terminal finally shows, with no control left.
func TestCleanRealOutputThroughTerminal(t *testing.T) {
	data, err := os.ReadFile("../../testdata/hostoutput/apt-install-docker-tty.raw")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var shown []string
	for _, l := range lines {
		out := Clean(l)
		checkClean(t, l, out)
		shown = append(shown, out)
	}
	all := strings.Join(shown, "\n")
	for _, want := range []string{
		"Reading package lists... Done",
		"(Reading database ... 12310 files and directories currently installed.)",
		"Setting up docker.io (20.10.24+dfsg1-1+deb12u1+b6) ...",
	} {
		if !strings.Contains(all, want+"\n") {
			t.Errorf("the cleaned output lacks the line %q", want)
		}
	}
	if strings.Contains(all, "Reading package lists... 0%") || strings.Contains(all, "(Reading database ... 5%") {
		t.Error("a progress state a terminal overwrote is still shown")
	}
}
