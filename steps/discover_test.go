package steps

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"aginstall/assets"
)

// The discovery script runs here under this machine's sh, and its facts
// agree with what the usual tools say about this machine.
func TestDiscoverScriptOnThisMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the script's /proc reads are Linux's")
	}
	src := t.TempDir()
	cmd := exec.Command("sh", "-s")
	cmd.Env = append(os.Environ(), "AG_PEER=127.0.0.1", "AG_SRC="+src+"/not/yet/there")
	cmd.Stdin = strings.NewReader(assets.DiscoverScript)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f, start, end := parseFacts(string(out))
	tool := func(name string, args ...string) string {
		b, err := exec.Command(name, args...).Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	host, _ := os.Hostname()
	cpus, _ := strconv.Atoi(tool("nproc"))
	want := map[string][2]string{
		"hostname": {f.Hostname, host},
		"kernel":   {f.Kernel, tool("uname", "-r")},
		"arch":     {f.Arch, tool("uname", "-m")},
		"cpus":     {strconv.Itoa(f.CPUs), strconv.Itoa(cpus)},
		"root":     {strconv.FormatBool(f.IsRoot), strconv.FormatBool(os.Geteuid() == 0)},
		"reach":    {f.ReachableAt, "127.0.0.1"},
	}
	for k, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s: script says %q, this machine %q", k, v[0], v[1])
		}
	}
	if f.MemoryMB <= 0 || f.DiskFreeMB <= 0 || f.SourceFreeMB <= 0 || f.OSID == "" {
		t.Errorf("memory, disk or OS missing: %+v", f)
	}
	if start <= 0 || end < start {
		t.Errorf("clock: start %v end %v", start, end)
	}
	if f.IsRoot && f.Sudo != "root" {
		t.Errorf("root but sudo=%q", f.Sudo)
	}
	if lc, err := os.ReadFile("/etc/security/limits.conf"); err == nil && (!f.limitsConf.read || string(f.limitsConf.data) != string(lc)) {
		t.Errorf("limits.conf: script says %+v", f.limitsConf)
	}
	for _, a := range f.Addresses {
		if strings.HasPrefix(a, "127.") || !strings.Contains(a, "/") {
			t.Errorf("address %q", a)
		}
	}
	// The kernel's own word on NFS.
	fsys, _ := os.ReadFile("/proc/filesystems")
	if strings.Contains(string(fsys), "\tnfs\n") && !f.NFSKernel {
		t.Error("nfs is in /proc/filesystems but nfs_kernel is not reported")
	}
}
