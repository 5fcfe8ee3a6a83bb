package steps

// PreflightFix is a preflight error's fix that is one key of the cluster
// file, so the wizard can offer it where the error is shown: set, save (an
// edit of that key only) and discover again.
type PreflightFix struct {
	Code   string // the finding's code
	Key    string // the cluster-file key, e.g. swarm.publish_mode
	Value  string // what it becomes
	Action string // the fix in a few words
	Why    string // one line: why it fixes the error, and what it costs
	Set    func(c *Cluster)
}

// preflightFixes: the findings a cluster-file key can fix. The others (no
// sudo, a clock off, ports taken by a program) are fixed on the host; their
// finding says how.
var preflightFixes = []PreflightFix{
	{Code: "ipvs", Key: "swarm.publish_mode", Value: "host", Action: "switch to host publishing",
		Why: "the routing mesh needs IPVS, which this kernel lacks; host publishing binds 80/443 on the node that runs the webserver, so point the site's DNS at that node",
		Set: func(c *Cluster) { c.Swarm.PublishMode = "host" }},
	{Code: "nfs", Key: "nfs.mode", Value: "skip", Action: "do without NFS",
		Why: "this kernel cannot share the checkout over NFS; you then provide source.path on every host yourself, the same folder as on the manager (shared storage handled elsewhere)",
		Set: func(c *Cluster) { c.NFS.Mode = "skip" }},
	{Code: "docker", Key: "docker.install", Value: "official", Action: "let aginstall install Docker",
		Why: "docker.install is skip but the engine is missing or older than 20.10; official installs it from Docker's apt repository",
		Set: func(c *Cluster) { c.Docker.Install = "official" }},
}

// FixFor is the cluster-file fix of a blocking finding, if there is one and
// the file does not say it already.
func FixFor(c *Cluster, f Finding) (PreflightFix, bool) {
	if f.Severity != Blocker {
		return PreflightFix{}, false
	}
	for _, fx := range preflightFixes {
		if fx.Code != f.Code {
			continue
		}
		probe := *c
		fx.Set(&probe)
		if flatten(&probe)[fx.Key] == flatten(c)[fx.Key] {
			return PreflightFix{}, false
		}
		return fx, true
	}
	return PreflightFix{}, false
}
