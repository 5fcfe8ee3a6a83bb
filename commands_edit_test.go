package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aginstall/steps"
)

const editTestFile = `name: lab   # ours
hosts:
  - name: node1
    address: 10.0.0.11
source: {repo: https://github.com/eecs-autograder/autograder-full-stack.git, path: /home/ubuntu/autograder-full-stack}
tuning: {gunicorn_workers: 3}
`

// TestEditedDuringRun: after apply, an edit made while it ran is named by
// key (the run used the file as read at its start); no edit, no note.
func TestEditedDuringRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aginstall.yaml")
	if err := os.WriteFile(path, []byte(editTestFile), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := steps.LoadCluster(path)
	if err != nil {
		t.Fatal(err)
	}
	if note := editedDuringRun(c); note != "" {
		t.Errorf("no edit, yet: %q", note)
	}
	edited := strings.Replace(editTestFile, "gunicorn_workers: 3", "gunicorn_workers: 5", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	note := editedDuringRun(c)
	for _, want := range []string{path + " changed while apply ran (tuning.gunicorn_workers)", "run aginstall apply again"} {
		if !strings.Contains(note, want) {
			t.Errorf("note %q lacks %q", note, want)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != edited {
		t.Errorf("reading it again changed the file:\n%s", got)
	}
	if err := os.WriteFile(path, []byte("name: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if note := editedDuringRun(c); !strings.Contains(note, "could not be read again") || strings.Contains(note, "\n") {
		t.Errorf("a broken file: %q", note)
	}
}
