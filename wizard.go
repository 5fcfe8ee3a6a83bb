package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"aginstall/ui"
)

// cmdWizard starts the TUI; `relabel` starts it on the re-label screen, and a
// state file beside the cluster file makes it offer to resume.
func cmdWizard(ctx context.Context, o *options) error {
	if !isTerminal() {
		return fmt.Errorf("%w: the wizard needs a terminal; without one use `aginstall plan`, `apply --yes` or `review`", errBadInput)
	}
	mode := ui.ModeWelcome
	if o.command == "relabel" {
		mode = ui.ModeRelabel
	}
	path, _ := filepath.Abs(o.file)
	var recent []string
	if _, err := os.Stat(path); err == nil {
		recent = append(recent, path)
	}
	be := newBackend(o)
	defer be.Close()
	return ui.Run(ctx, ui.Options{
		ClusterPath: path,
		Mode:        mode,
		Accessible:  o.accessible,
		Backend:     be,
		Recent:      recent,
		SSHConfig:   o.sshConfig,
	})
}
