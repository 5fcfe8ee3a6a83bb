// Package ui is aginstall's terminal wizard (bubbletea v2). It never talks
// SSH: every remote action goes through the Backend, whose steps.Events come
// back into the program through a Sink, and whose results arrive as messages.
package ui

import (
	"context"

	"aginstall/remote"
	"aginstall/steps"
	"aginstall/steps/rules"
)

// Mode is where the wizard starts.
type Mode int

const (
	ModeWelcome Mode = iota // choose on the welcome screen
	ModeInstall             // a new install (straight to Hosts)
	ModeResume              // review first, then continue at the first step not done
	ModeReview              // read-only checklist, Markdown export
	ModeRelabel             // the label matrix on the live cluster
)

func (m Mode) String() string {
	return [...]string{"welcome", "install", "resume", "review", "relabel"}[m]
}

// Options is what main hands the wizard.
type Options struct {
	ClusterPath string   // may not exist yet (new install)
	Mode        Mode     // ModeWelcome by default
	Accessible  bool     // plain symbols, no animation, huh's accessible prompts for forms
	Backend     Backend  // everything that touches hosts
	Recent      []string // recently used cluster files, newest first (shown on Welcome)
	SSHConfig   string   // ssh_config to import Host entries from; "" means ~/.ssh/config
}

// Backend is everything that touches hosts or the cluster file, so the UI
// stays free of SSH. Methods that take a sink stream steps.Events into it while
// they work; they are always called from a tea.Cmd, never from Update.
type Backend interface {
	LoadCluster(path string) (*steps.Cluster, error)
	// SaveCluster writes the wizard's changes into the cluster file: only the
	// keys it changed, after reading the file again so an edit made outside
	// is kept (steps.SaveCluster). A key both changed is a
	// *steps.ConflictError and nothing is written.
	SaveCluster(c *steps.Cluster) (steps.SaveResult, error)
	// RefreshCluster reads the file again: the outside edits with the
	// wizard's pending changes on top (steps.RefreshCluster).
	RefreshCluster(c *steps.Cluster) (steps.SaveResult, error)
	// TestConnections logs in to every host (no change): Done, or Unknown with
	// the reason and a fix.
	TestConnections(ctx context.Context, c *steps.Cluster) []steps.HostCheck
	ScanHostKeys(ctx context.Context, c *steps.Cluster) ([]remote.HostKey, error)
	AcceptHostKeys(ctx context.Context, c *steps.Cluster, keys []remote.HostKey) error
	Steps() []steps.Step
	// Facts is what discovery stored per host (nil entries for unknown hosts).
	Facts(c *steps.Cluster) map[string]*steps.Facts
	Review(ctx context.Context, c *steps.Cluster, sink steps.Sink) ([]steps.StepReport, error)
	Plan(ctx context.Context, c *steps.Cluster, sink steps.Sink) ([]steps.Record, error)
	ApplyStep(ctx context.Context, c *steps.Cluster, stepID string, sink steps.Sink) error
	Skip(c *steps.Cluster, stepID, reason string) error
	// SudoPassword hands over the password the operator typed (masked).
	SudoPassword(pw []byte)
	// Re-label on a live swarm (steps.ReadLabels, steps.CheckRelabel,
	// steps.ApplyRelabel): the labels now (node → labels) with the nodes'
	// sizes, the prerequisites on the target nodes, and the change itself
	// with how the services converged. The plan is made by the UI
	// (steps.PlanRelabelFor, pure).
	ReadLabels(ctx context.Context, c *steps.Cluster) (map[string][]string, map[string]rules.Node, error)
	CheckRelabel(ctx context.Context, c *steps.Cluster, plan steps.RelabelPlan) (steps.RelabelPlan, error)
	ApplyRelabel(ctx context.Context, c *steps.Cluster, plan steps.RelabelPlan, confirmed []string, sink steps.Sink) (steps.RelabelResult, error)
	LogPath() string
}
