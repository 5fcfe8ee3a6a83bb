package remote

import "io/fs"

// This file holds the small value types that steps/ codes against. The
// connection code lives beside it (connect.go, run.go, files.go, docker.go...).

// Command is one shell command line run on a host.
type Command struct {
	Line  string // exact shell command line run by the remote login shell (build it with Quote)
	Sudo  bool   // run as root: no-op if already root; else sudo (password via stdin if needed)
	Stdin []byte // data for the command (never logged); after the sudo password line if one is sent
}

// Line is one line a command printed.
type Line struct {
	Stream string // "stdout" | "stderr"
	Text   string
}

// Result is how a command ended.
type Result struct {
	ExitCode int
	Stdout   []byte // full stdout
	Stderr   []byte // the last 64 KiB of stderr
}

// WriteOptions says how WriteFile replaces a file.
type WriteOptions struct {
	Sudo   bool
	Mode   fs.FileMode // 0: keep the existing mode, or 0644 for a new file
	Backup bool        // keep "<path>.aginstall-<UTC timestamp>.bak" of the old content
	// BackupDir, if set, holds the backup instead of the file's folder, as
	// "<path with / as _>.aginstall-<UTC timestamp>.bak" (for files inside
	// a Docker build context, which must not ship old copies).
	BackupDir string
}
