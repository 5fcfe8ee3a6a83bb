package steps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"aginstall/remote"
	"aginstall/steps/edit"
)

// nfsStep shares the manager's checkout with every host, as the guide does
// with NFS (nfs.mode: export), or, with nfs.mode: skip, records that the
// operator shares it some other way and proves the folder is the same on
// every host. Either way the proof is a marker file written once on the
// manager and read back on each host.
type nfsStep struct{}

func init() { register(OrderNFS, nfsStep{}) }

func (nfsStep) ID() string                { return "nfs" }
func (nfsStep) Title() string             { return "Share the source over NFS" }
func (nfsStep) Hosts(c *Cluster) []string { return AllHosts(c) }
func (nfsStep) Inputs(c *Cluster) any {
	return []any{c.NFS, c.Source.Path, c.Manager, c.Swarm.AdvertiseAddress, c.HostNames()}
}

const (
	sharedMarker = ".aginstall-shared"
	exportsPath  = "/etc/exports"
	fstabPath    = "/etc/fstab"
)

// nfsProbeScript reads one host's view of the shared folder. AG_NFS
// says what else to ask: "server" (the manager in export mode: nfsd, the
// server package and service), "client" (another host in export mode: nfs,
// nfs-common and the mount) or "none" (skip mode: the folder alone). Every
// process costs the host CPU on each review, so only what the verdict reads
// is asked.
const nfsProbeScript = `p=$AG_PATH
if [ -d "$p" ]; then
	echo dir=1
	[ -d "$p/autograder-server/media_root" ] && echo media=1
	[ -f "$p/` + sharedMarker + `" ] && echo "marker=$(head -c 200 "$p/` + sharedMarker + `")"
	command -v git >/dev/null 2>&1 && echo "head=$(` + gitSafe + ` -C "$p" rev-parse -q --verify HEAD 2>/dev/null)"
fi
case $AG_NFS in
server) pkg=nfs-kernel-server fs=nfsd re=nfsd ;;
client) pkg=nfs-common fs=nfs re='nfs4?' ;;
*) exit 0 ;;
esac
dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' && echo "pkg=$pkg"
if grep -qE "[[:space:]]$re\$" /proc/filesystems 2>/dev/null || modprobe -n "$fs" >/dev/null 2>&1; then echo "$fs=1"; fi
if [ "$AG_NFS" = server ]; then
	[ "$(systemctl is-enabled nfs-server 2>/dev/null)" = enabled ] && echo enabled=1
	[ "$(systemctl is-active nfs-server 2>/dev/null)" = active ] && echo active=1
else
	findmnt -n -o SOURCE,FSTYPE --mountpoint "$p" 2>/dev/null | sed 's/^/mount=/'
fi
exit 0
`

type nfsInfo struct {
	dir, media, nfs, nfsd, enabled, active bool
	marker, head, mount                    string
	pkgs                                   map[string]bool
}

func parseNFS(out string) nfsInfo {
	in := nfsInfo{pkgs: map[string]bool{}}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "dir":
			in.dir = true
		case "media":
			in.media = true
		case "marker":
			in.marker = strings.TrimSpace(v)
		case "head":
			in.head = v
		case "pkg":
			in.pkgs[v] = true
		case "mount":
			in.mount = strings.Join(strings.Fields(v), " ")
		case "nfs":
			in.nfs = true
		case "nfsd":
			in.nfsd = true
		case "enabled":
			in.enabled = true
		case "active":
			in.active = true
		}
	}
	return in
}

func probeNFS(ctx context.Context, c *Cluster, h *HostRunner) (nfsInfo, error) {
	res, err := h.Query(ctx, "inspect the shared folder", remote.Command{
		Line:  "env " + remote.Quote("AG_PATH="+c.Source.Path, "AG_NFS="+nfsRole(c, h.Host)) + " sh -s",
		Stdin: []byte(nfsProbeScript), Sudo: true})
	return parseNFS(string(res.Stdout)), err
}

// nfsRole is the probe's AG_NFS for host: what NFS part it plays.
func nfsRole(c *Cluster, host string) string {
	switch {
	case c.NFS.Mode != "export":
		return "none"
	case host == c.Manager:
		return "server"
	}
	return "client"
}

// noNFSError is the plain-words error for a kernel without NFS.
// command and said are what was run and what the host answered.
func noNFSError(step, host, what, path, command, said string) error {
	return &StepError{Step: step, Host: host, Purpose: what + " the source folder over NFS", Command: command,
		Err:  fmt.Errorf("%s: this kernel cannot %s NFS (%s), so the source folder cannot be shared over NFS here", host, what, said),
		Next: "set nfs.mode: skip in the cluster file and make " + path + " hold the manager's checkout on every host yourself (shared storage handled elsewhere), or use a kernel with NFS"}
}

// nfsKernelProbe is how the probe tells (shown in errors).
const (
	nfsKernelProbe  = "grep nfs /proc/filesystems || modprobe -n nfs"
	nfsdKernelProbe = "grep nfsd /proc/filesystems || modprobe -n nfsd"
)

// noSuchDevice picks mount's own line out of its error.
func noSuchDevice(err error) string {
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.Contains(l, "No such device") {
			return strings.TrimSpace(l)
		}
	}
	return "No such device"
}

// nfsManagerAddr is the address the other hosts mount from.
func nfsManagerAddr(env *Env) string {
	c := env.Cluster
	if c.Swarm.AdvertiseAddress != "" {
		return c.Swarm.AdvertiseAddress
	}
	if a := env.State.FactsOf(c.Manager).reach(); a != "" {
		return a
	}
	m, _ := c.Host(c.Manager)
	return m.Address
}

// nfsClientAddrs are the addresses the export is restricted to: where
// each other host reaches the manager from.
func nfsClientAddrs(env *Env) []string {
	c := env.Cluster
	if c.NFS.Clients == "*" {
		return []string{"*"}
	}
	var out []string
	for _, w := range c.Workers() {
		if a := env.State.FactsOf(w).reach(); a != "" {
			out = append(out, a)
		} else if h, _ := c.Host(w); factName.MatchString(h.Address) || strictIP(h.Address) != "" {
			out = append(out, h.Address)
		}
	}
	return out
}

func (s nfsStep) Check(ctx context.Context, env *Env) []HostCheck {
	c := env.Cluster
	// The manager's probe runs beside the others' (one round trip for the
	// step, not two); each host's verdict waits for it.
	var m nfsInfo
	var err error
	managerDone := make(chan struct{})
	go func() {
		defer close(managerDone)
		m, err = probeNFS(ctx, c, env.On(s.ID(), c.Manager))
	}()
	return checkEachHost(ctx, env, s.ID(), s.Hosts(c), func(ctx context.Context, h *HostRunner) HostCheck {
		var in nfsInfo
		var herr error
		if h.Host != c.Manager {
			in, herr = probeNFS(ctx, c, h)
		}
		<-managerDone
		if err != nil {
			return HostCheck{Status: Unknown, Reason: "cannot inspect the manager: " + firstLine(err)}
		}
		if h.Host == c.Manager {
			in = m
		} else if herr != nil {
			return HostCheck{Status: Unknown, Reason: herr.Error()}
		}
		todo := func(reason, fix string) HostCheck {
			return HostCheck{Status: notDoneStatus(env, s.ID()), Reason: reason, Fix: fix}
		}
		if c.NFS.Mode == "export" && len(c.Workers()) > 0 {
			if h.Host == c.Manager {
				if !in.nfsd {
					return HostCheck{Status: Todo, Reason: "this kernel cannot export NFS", Fix: "set nfs.mode: skip and share " + c.Source.Path + " yourself"}
				}
				old, err := h.ReadFile(ctx, "read the exports", exportsPath, false)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return HostCheck{Status: Unknown, Reason: err.Error()}
				}
				switch {
				case !in.pkgs["nfs-kernel-server"] || !in.enabled || !in.active:
					return todo("nfs-kernel-server is not installed, enabled and running", "aginstall apply does it")
				case string(edit.Exports(old, c.Source.Path, nfsClientAddrs(env))) != string(old):
					return todo(exportsPath+" does not export "+c.Source.Path+" as wanted", "aginstall apply sets the line")
				}
			} else {
				if !in.nfs {
					return HostCheck{Status: Todo, Reason: "this kernel cannot mount NFS", Fix: "set nfs.mode: skip and share " + c.Source.Path + " yourself"}
				}
				old, err := h.ReadFile(ctx, "read the mounts", fstabPath, false)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return HostCheck{Status: Unknown, Reason: err.Error()}
				}
				switch {
				case !in.pkgs["nfs-common"]:
					return todo("nfs-common is not installed", "aginstall apply installs it")
				case string(edit.Fstab(old, nfsManagerAddr(env), c.Source.Path)) != string(old):
					return todo(fstabPath+" lacks the mount of "+c.Source.Path, "aginstall apply sets the line")
				case !strings.HasPrefix(in.mount, nfsManagerAddr(env)+":"):
					return todo(c.Source.Path+" is not mounted from the manager", "aginstall apply mounts it")
				}
			}
		}
		return sharedVerdict(env, m, in, h.Host == c.Manager, todo)
	})
}

// sharedVerdict compares one host's view of the folder with the manager's.
func sharedVerdict(env *Env, m, in nfsInfo, isManager bool, todo func(string, string) HostCheck) HostCheck {
	c := env.Cluster
	how := "shared over NFS"
	if c.NFS.Mode == "skip" {
		how = "shared storage handled elsewhere (nfs.mode: skip)"
	}
	switch {
	case !m.media:
		return todo(c.Source.Path+"/autograder-server/media_root does not exist on the manager", "aginstall apply creates it")
	case m.marker == "":
		return todo("the manager's shared-folder marker is not written yet", "aginstall apply writes it")
	case isManager:
		return HostCheck{Status: Done, Reason: how + "; marker and media_root in place"}
	case !in.dir:
		return HostCheck{Status: Todo, Reason: c.Source.Path + " does not exist on this host", Fix: shareFix(c)}
	case in.marker != m.marker:
		why := "the marker the manager wrote is not there"
		if in.head != m.head {
			why += fmt.Sprintf(" and HEAD is %s, the manager's %s", shortSHA(in.head), shortSHA(m.head))
		}
		return HostCheck{Status: Todo, Reason: c.Source.Path + " is not the manager's folder: " + why, Fix: shareFix(c)}
	}
	return HostCheck{Status: Done, Reason: how + "; the manager's marker reads back here"}
}

func shareFix(c *Cluster) string {
	if c.NFS.Mode == "skip" {
		return "nfs.mode is skip: make " + c.Source.Path + " on this host the same folder as on the manager (your shared storage), or set nfs.mode: export"
	}
	return "aginstall apply mounts it"
}

func (s nfsStep) Apply(ctx context.Context, env *Env) error {
	c := env.Cluster
	if strings.ContainsFunc(c.Source.Path, func(r rune) bool { return r < ' ' || r == 0x7f || r == '"' }) {
		// One exports or fstab line must never become two.
		return &StepError{Step: s.ID(), Host: c.Manager, Purpose: "check source.path", Err: fmt.Errorf("source.path %q holds a control character or a double quote", c.Source.Path),
			Next: "choose a source.path of plain characters"}
	}
	// Each host's probe in export mode, read once: the refusal, the package
	// and the client's mount all go by it.
	var mu sync.Mutex
	infos := map[string]nfsInfo{}
	if c.NFS.Mode == "export" {
		// Refuse before changing anything when a kernel cannot do NFS.
		err := env.Each(ctx, s.ID(), s.Hosts(c), func(ctx context.Context, h *HostRunner) error {
			in, err := probeNFS(ctx, c, h)
			switch {
			case err != nil:
				return err
			case h.Host == c.Manager && !in.nfsd:
				return noNFSError(s.ID(), h.Host, "export", c.Source.Path, nfsdKernelProbe, "no nfsd in /proc/filesystems and no nfsd module")
			case h.Host != c.Manager && !in.nfs:
				return noNFSError(s.ID(), h.Host, "mount", c.Source.Path, nfsKernelProbe, "no nfs in /proc/filesystems and no nfs module")
			}
			mu.Lock()
			infos[h.Host] = in
			mu.Unlock()
			return nil
		})
		if err != nil {
			return err
		}
		// Every kernel can: the packages, on every host at once.
		if err := env.Each(ctx, s.ID(), s.Hosts(c), func(ctx context.Context, h *HostRunner) error {
			mu.Lock()
			in := infos[h.Host]
			mu.Unlock()
			return nfsInstallPackage(ctx, c, h, in)
		}); err != nil {
			return err
		}
	}
	var marker string
	err := env.Each(ctx, s.ID(), ManagerOnly(c), func(ctx context.Context, h *HostRunner) error {
		var err error
		marker, err = applyNFSManager(ctx, env, h)
		return err
	})
	if err != nil {
		return err
	}
	return env.Each(ctx, s.ID(), c.Workers(), func(ctx context.Context, h *HostRunner) error {
		if c.NFS.Mode == "export" {
			mu.Lock()
			in := infos[h.Host]
			mu.Unlock()
			if err := mountNFSOnClient(ctx, env, h, in); err != nil {
				return err
			}
		}
		in, err := probeNFS(ctx, c, h)
		if err != nil || h.DryRun() {
			return err
		}
		if marker != "" && in.marker == marker {
			return nil
		}
		why := fmt.Errorf("%s on %s does not hold the marker the manager wrote in its %s", c.Source.Path, h.Host, sharedMarker)
		if !in.dir {
			why = fmt.Errorf("%s does not exist on %s", c.Source.Path, h.Host)
		}
		return &StepError{Step: s.ID(), Host: h.Host, Purpose: "prove the folder is shared", Command: "read " + c.Source.Path + "/" + sharedMarker,
			Err: why, Next: shareFix(c) + ", then run aginstall apply again"}
	})
}

// applyNFSManager exports the folder (export mode), creates media_root
// and writes the marker once; it returns the marker.
func applyNFSManager(ctx context.Context, env *Env, h *HostRunner) (string, error) {
	c := env.Cluster
	in, err := probeNFS(ctx, c, h)
	if err != nil {
		return "", err
	}
	if c.NFS.Mode == "export" && len(c.Workers()) > 0 { // a lone manager shares with no one
		old, err := h.ReadFile(ctx, "read the exports", exportsPath, false)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		clients := nfsClientAddrs(env)
		if len(clients) == 0 {
			// An exports line without clients would share the folder with everyone.
			return "", &StepError{Step: "nfs", Host: h.Host, Purpose: "export the source folder", Err: errors.New("no other host has an address to export to"),
				Next: "add the other hosts to the cluster file, or set nfs.mode: skip"}
		}
		nw := edit.Exports(old, c.Source.Path, clients)
		changed, err := h.WriteFile(ctx, "export the source folder", exportsPath, old, nw,
			remote.WriteOptions{Sudo: true, Backup: true}, fileDiff(exportsPath, old, nw))
		if err != nil {
			return "", err
		}
		if !in.enabled || !in.active {
			if _, err := h.Run(ctx, "enable and start the NFS server", remote.Command{Line: "systemctl enable --now nfs-server", Sudo: true}); realErr(err) {
				return "", err
			}
		}
		if changed {
			if _, err := h.Run(ctx, "reload the exports", remote.Command{Line: "exportfs -ra", Sudo: true}); realErr(err) {
				return "", err
			}
		}
	}
	if !in.media {
		if _, err := h.Run(ctx, "create media_root", remote.Command{Line: "mkdir -p " + remote.Quote(c.Source.Path+"/autograder-server/media_root"), Sudo: true}); realErr(err) {
			return "", err
		}
	}
	if in.marker != "" {
		return in.marker, nil
	}
	tok := make([]byte, 8)
	_, _ = rand.Read(tok)
	marker := "aginstall shared-folder check " + hex.EncodeToString(tok)
	path := c.Source.Path + "/" + sharedMarker
	_, err = h.WriteFile(ctx, "write the shared-folder marker", path, nil, []byte(marker+"\n"),
		remote.WriteOptions{Sudo: true, Mode: 0o644}, "+"+marker)
	return marker, err
}

// nfsInstallPackage installs the host's NFS package (the server on the
// manager, the client elsewhere) if it is missing. Apply runs it on every
// host at once, before the export: a client's install does not need the
// export, and apt is most of the step's time.
func nfsInstallPackage(ctx context.Context, c *Cluster, h *HostRunner, in nfsInfo) error {
	pkg, purpose := "nfs-common", "install the NFS client"
	if h.Host == c.Manager {
		if len(c.Workers()) == 0 { // a lone manager shares with no one
			return nil
		}
		pkg, purpose = "nfs-kernel-server", "install the NFS server"
	}
	if in.pkgs[pkg] {
		return nil
	}
	for _, cmd := range []aptCmd{{"refresh the package lists", aptEnv + "update"}, {purpose, aptEnv + "install -y " + pkg}} {
		if err := runApt(ctx, h, cmd); err != nil {
			return err
		}
	}
	return nil
}

// applyNFSClient installs the NFS client on one other host and mounts the
// manager's export there.
func applyNFSClient(ctx context.Context, env *Env, h *HostRunner) error {
	in, err := probeNFS(ctx, env.Cluster, h)
	if err != nil {
		return err
	}
	if err := nfsInstallPackage(ctx, env.Cluster, h, in); err != nil {
		return err
	}
	return mountNFSOnClient(ctx, env, h, in)
}

// mountNFSOnClient mounts the manager's export on one other host (its NFS
// client is installed). in is the host's probe from before the install: the
// mount point and the live mount it reads are not changed by a package.
func mountNFSOnClient(ctx context.Context, env *Env, h *HostRunner, in nfsInfo) error {
	c := env.Cluster
	if !in.dir {
		if _, err := h.Run(ctx, "create the mount point", remote.Command{Line: "mkdir -p " + remote.Quote(c.Source.Path), Sudo: true}); realErr(err) {
			return err
		}
	}
	addr := nfsManagerAddr(env)
	old, err := h.ReadFile(ctx, "read the mounts", fstabPath, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	nw := edit.Fstab(old, addr, c.Source.Path)
	changed, err := h.WriteFile(ctx, "mount the manager's folder at boot", fstabPath, old, nw,
		remote.WriteOptions{Sudo: true, Backup: true}, fileDiff(fstabPath, old, nw))
	if err != nil {
		return err
	}
	if changed && in.mount != "" {
		// A stale mount from elsewhere: take it down so the new line applies.
		if _, err := h.Run(ctx, "unmount the stale mount", remote.Command{Line: "umount " + remote.Quote(c.Source.Path), Sudo: true}); realErr(err) {
			return err
		}
	}
	if changed || !strings.HasPrefix(in.mount, addr+":") {
		_, err := h.Run(ctx, "mount it (guide: mount -a)", remote.Command{Line: "mount -a", Sudo: true})
		var se *StepError
		if errors.As(err, &se) && strings.Contains(se.Err.Error(), "No such device") {
			return noNFSError("nfs", h.Host, "mount", c.Source.Path, se.Command, "mount said: "+noSuchDevice(se.Err))
		}
		if realErr(err) {
			return err
		}
	}
	return nil
}
