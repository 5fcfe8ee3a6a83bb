package steps

// Facts is what discovery learnt about one host; kept in the state for the UI
// and used by later steps (advertise address, label suggestions, preflight).
type Facts struct {
	Hostname     string   `json:"hostname"`
	OSID         string   `json:"os_id"`      // ubuntu, debian, ...
	OSVersion    string   `json:"os_version"` // 22.04, 12, ...
	OSName       string   `json:"os_name"`    // PRETTY_NAME
	Kernel       string   `json:"kernel"`
	Arch         string   `json:"arch"`
	CPUs         int      `json:"cpus"`
	MemoryMB     int      `json:"memory_mb"`
	DiskFreeMB   int      `json:"disk_free_mb"`   // on /
	SourceFreeMB int      `json:"source_free_mb"` // under the source path (or its nearest existing parent)
	IsRoot       bool     `json:"is_root"`
	Sudo         string   `json:"sudo"`             // root | nopasswd | password | none
	Docker       string   `json:"docker,omitempty"` // engine version, "" if none
	DockerAccess string   `json:"docker_access"`    // direct | sudo | none
	Swarm        string   `json:"swarm,omitempty"`  // inactive | active | pending | error
	NodeID       string   `json:"node_id,omitempty"`
	SwarmID      string   `json:"swarm_id,omitempty"`
	IsManager    bool     `json:"is_manager,omitempty"`
	NofileLines  []string `json:"nofile_lines,omitempty"`
	NFSClient    bool     `json:"nfs_client"`
	NFSServer    bool     `json:"nfs_server"`
	NFSKernel    bool     `json:"nfs_kernel"`
	IPVS         bool     `json:"ipvs"`
	ClockOffset  float64  `json:"clock_offset_s"` // against the manager
	// ClockError bounds ClockOffset's measurement error: half the round
	// trips' delays, this host's and the manager's (a slow SSH session, a
	// loaded host). The true offset is ClockOffset ± ClockError.
	ClockError  float64   `json:"clock_error_s,omitempty"`
	Addresses   []string  `json:"addresses"`
	ReachableAt string    `json:"reachable_at,omitempty"` // the address the other hosts reach
	Ports8043   []string  `json:"ports_taken,omitempty"`  // 80/443 listeners
	Findings    []Finding `json:"findings,omitempty"`
	Dropped     []string  `json:"-"` // malformed lines left out (discover_facts_strict.go)

	// limits.conf as discovery read it, for the limits check of the same
	// review only (never kept: an older copy proves nothing).
	limitsConf carriedFile
}

// reach is ReachableAt when it is an IP address. Facts stored by an older
// version were not parsed strictly, so every use in a file or a command
// checks again.
func (f *Facts) reach() string {
	if f == nil {
		return ""
	}
	return strictIP(f.ReachableAt)
}

// Severity of a preflight finding.
type Severity string

const (
	Blocker Severity = "error"   // blocks the install
	Warning Severity = "warning" // go on after the operator has seen it
)

// Finding is one preflight result with its reason and a fix.
type Finding struct {
	Host     string   `json:"host"`
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}
