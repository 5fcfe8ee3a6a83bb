package steps

import (
	"strings"
	"testing"
)

func testCluster() *Cluster {
	return &Cluster{
		Manager: "m",
		Hosts: []HostSpec{
			{Name: "m", Labels: []string{"webserver", "database"}},
			{Name: "w", Labels: []string{"grader"}},
		},
		Docker: DockerSpec{Install: "distro"},
		Source: SourceSpec{Path: "/srv/ag"},
		NFS:    NFSSpec{Mode: "export"},
		Swarm:  SwarmSpec{PublishMode: "host"},
	}
}

// goodFacts is a host that passes every check.
func goodFacts(name string) *Facts {
	return &Facts{Hostname: name, OSID: "ubuntu", OSVersion: "22.04", OSName: "Ubuntu 22.04.4 LTS", CPUs: 8,
		MemoryMB: 16000, DiskFreeMB: 100000, SourceFreeMB: 100000, IsRoot: true, Sudo: "root",
		Docker: "24.0.7", NFSKernel: true, IPVS: true}
}

func TestPreflight(t *testing.T) {
	type edit func(c *Cluster, m, w *Facts)
	cases := []struct {
		name  string
		edit  edit
		want  []string // "host severity code" of every finding, in order
		words string   // a phrase the first finding's message must hold
	}{
		{"all good", func(c *Cluster, m, w *Facts) {}, nil, ""},
		{"debian 11", func(c *Cluster, m, w *Facts) { w.OSID, w.OSVersion = "debian", "11" }, nil, ""},
		{"ubuntu 24.04", func(c *Cluster, m, w *Facts) { w.OSVersion = "24.04" }, nil, ""},
		{"ubuntu 18.04 eol", func(c *Cluster, m, w *Facts) { w.OSVersion, w.OSName = "18.04", "Ubuntu 18.04.6 LTS" },
			[]string{"w warning os"}, "end of life"},
		{"ubuntu 16.04 eol", func(c *Cluster, m, w *Facts) { w.OSVersion = "16.04" }, []string{"w warning os"}, "end of life"},
		{"ubuntu 19.10", func(c *Cluster, m, w *Facts) { w.OSVersion = "19.10" }, []string{"w error os"}, "not supported"},
		{"debian 10", func(c *Cluster, m, w *Facts) { w.OSID, w.OSVersion = "debian", "10" }, []string{"w error os"}, "not supported"},
		{"centos", func(c *Cluster, m, w *Facts) { w.OSID, w.OSVersion = "centos", "9" }, []string{"w error os"}, "not supported"},
		{"not linux", func(c *Cluster, m, w *Facts) { w.OSID, w.OSVersion, w.OSName = "", "", "FreeBSD" },
			[]string{"w error os"}, "FreeBSD is not a supported Linux"},
		{"duplicate hostname", func(c *Cluster, m, w *Facts) { w.Hostname = "m" },
			[]string{"m error hostname", "w error hostname"}, `hosts m, w all call themselves "m"`},
		{"skew 2.5 s", func(c *Cluster, m, w *Facts) { w.ClockOffset = -2.5 }, []string{"w error clock"}, "-2.5 s"},
		{"skew 1.5 s ok", func(c *Cluster, m, w *Facts) { w.ClockOffset = 1.5 }, nil, ""},
		{"skew 2.5 s, measured loosely", func(c *Cluster, m, w *Facts) { w.ClockOffset, w.ClockError = 2.5, 1.2 }, []string{"w warning clock"}, "too slowly to be sure (±1.2 s)"},
		{"skew 4 s, beyond the error", func(c *Cluster, m, w *Facts) { w.ClockOffset, w.ClockError = -4, 1.2 }, []string{"w error clock"}, "-4.0 s"},
		{"no ipvs, host mode", func(c *Cluster, m, w *Facts) { w.IPVS = false }, []string{"w warning ipvs"}, "routing mesh"},
		{"no ipvs, ingress", func(c *Cluster, m, w *Facts) { w.IPVS = false; c.Swarm.PublishMode = "ingress" },
			[]string{"w error ipvs"}, "the routing mesh will not work"},
		{"no nfs, export", func(c *Cluster, m, w *Facts) { w.NFSKernel = false }, []string{"w error nfs"}, "w: this kernel has no NFS support"},
		{"no nfs, skip", func(c *Cluster, m, w *Facts) { w.NFSKernel = false; c.NFS.Mode = "skip" }, nil, ""},
		{"no sudo", func(c *Cluster, m, w *Facts) { w.IsRoot, w.Sudo = false, "none" }, []string{"w error sudo"}, "cannot use sudo"},
		{"sudo with password ok", func(c *Cluster, m, w *Facts) { w.IsRoot, w.Sudo = false, "password" }, nil, ""},
		{"port 80 taken on webserver", func(c *Cluster, m, w *Facts) { m.Ports8043 = []string{"0.0.0.0:80 apache2"} },
			[]string{"m error ports"}, "0.0.0.0:80 (apache2)"},
		{"port 443 taken, no process name", func(c *Cluster, m, w *Facts) { m.Ports8043 = []string{"[::]:443"} },
			[]string{"m error ports"}, "cannot name"},
		{"no process name on a swarm node (a sudo user's view of the deployed nginx)", func(c *Cluster, m, w *Facts) { m.Ports8043 = []string{"0.0.0.0:443"}; m.Swarm = "active" },
			[]string{"m warning ports"}, "cannot name (a deployed nginx's docker-proxy"},
		{"a named program on a swarm node still blocks", func(c *Cluster, m, w *Facts) {
			m.Ports8043 = []string{"0.0.0.0:443", "0.0.0.0:80 apache2"}
			m.Swarm = "active"
		},
			[]string{"m error ports"}, "0.0.0.0:80 (apache2)"},
		{"docker's own listener", func(c *Cluster, m, w *Facts) { m.Ports8043 = []string{"0.0.0.0:443 docker-proxy"} }, nil, ""},
		{"port taken on a non-webserver host", func(c *Cluster, m, w *Facts) { w.Ports8043 = []string{"0.0.0.0:80 nginx"} }, nil, ""},
		{"small database host", func(c *Cluster, m, w *Facts) { m.MemoryMB = 2048 },
			[]string{"m warning memory"}, "(database, webserver) want at least 4 GB"},
		{"4 GB sold, 3.8 reported", func(c *Cluster, m, w *Facts) { m.MemoryMB = 3900 }, nil, ""},
		{"small grader", func(c *Cluster, m, w *Facts) { w.MemoryMB = 1024 }, []string{"w warning memory"}, "(grader) want at least 2 GB"},
		{"database disk", func(c *Cluster, m, w *Facts) { m.DiskFreeMB = 5000 }, []string{"m warning disk"}, "(database) want at least 20 GB"},
		{"source disk on the manager", func(c *Cluster, m, w *Facts) { m.SourceFreeMB = 2048 }, []string{"m warning disk"}, "under /srv/ag"},
		{"old docker, skip", func(c *Cluster, m, w *Facts) { c.Docker.Install = "skip"; w.Docker = "19.03.13" },
			[]string{"w error docker"}, "older than 20.10"},
		{"docker 20.10 skip ok", func(c *Cluster, m, w *Facts) { c.Docker.Install = "skip"; w.Docker = "20.10.24+dfsg1" }, nil, ""},
		{"no docker, skip", func(c *Cluster, m, w *Facts) { c.Docker.Install = "skip"; w.Docker = "" }, []string{"w error docker"}, "no Docker"},
		{"old docker, distro installs", func(c *Cluster, m, w *Facts) { w.Docker = "19.03.13" }, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster()
			m, w := goodFacts("m"), goodFacts("w")
			tc.edit(c, m, w)
			got := Preflight(c, map[string]*Facts{"m": m, "w": w})
			var codes []string
			for _, f := range got {
				codes = append(codes, f.Host+" "+string(f.Severity)+" "+f.Code)
				if f.Message == "" || f.Fix == "" {
					t.Errorf("finding without message or fix: %+v", f)
				}
			}
			if strings.Join(codes, "; ") != strings.Join(tc.want, "; ") {
				t.Fatalf("findings %q, want %q\n%+v", codes, tc.want, got)
			}
			if tc.words != "" && !strings.Contains(got[0].Message, tc.words) {
				t.Errorf("message %q lacks %q", got[0].Message, tc.words)
			}
		})
	}
}

func TestPreflightSkipsHostsWithoutFacts(t *testing.T) {
	c := testCluster()
	if got := Preflight(c, map[string]*Facts{"m": goodFacts("m")}); len(got) != 0 {
		t.Fatalf("findings for a host without facts: %+v", got)
	}
}

func TestPreflightErrorListsEveryFinding(t *testing.T) {
	err := &PreflightError{Findings: []Finding{
		{Host: "w", Severity: Warning, Code: "ipvs", Message: "no ipvs", Fix: "publish_mode host"},
		{Host: "m", Severity: Blocker, Code: "sudo", Message: "no sudo", Fix: "add to sudo"},
	}}
	msg := err.Error()
	if !strings.Contains(msg, "m error [sudo]: no sudo\n    fix: add to sudo") || !strings.Contains(msg, "w warning [ipvs]") ||
		strings.Index(msg, "[sudo]") > strings.Index(msg, "[ipvs]") {
		t.Fatalf("error text:\n%s", msg)
	}
}

func TestParseFacts(t *testing.T) {
	out := `time_start=1700000000.250
uname_s=Linux
hostname=node1
kernel=6.1.0-18-amd64
arch=x86_64
os_id=debian
os_version=12
os_name=Debian GNU/Linux 12 (bookworm)
cpus=4
mem_kb=8164020
disk_free_kb=20971520
source_free_kb=10485760
uid=1000
user=agadmin
sudo=password
docker_access=direct
docker_info=20.10.24+dfsg1|active|abc123|true|swarm9
dockerd=20.10.24+dfsg1
nofile=* soft nofile 1024
nofile=*	hard	nofile	4096
pkg=nfs-common ii 
pkg=nfs-kernel-server un 
ipvs=1
addr=10.213.0.11/24
addr=192.168.1.5/24
reach=10.213.0.11
listen=0.0.0.0:80 nginx
time_end=1700000000.300
`
	f, start, end := parseFacts(out)
	if start != 1700000000.25 || end != 1700000000.3 {
		t.Errorf("times %v %v", start, end)
	}
	want := Facts{Hostname: "node1", OSID: "debian", OSVersion: "12", OSName: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0-18-amd64",
		Arch: "x86_64", CPUs: 4, MemoryMB: 7972, DiskFreeMB: 20480, SourceFreeMB: 10240, Sudo: "password", Docker: "20.10.24+dfsg1",
		DockerAccess: "direct", Swarm: "active", NodeID: "abc123", IsManager: true, SwarmID: "swarm9", NFSClient: true, IPVS: true,
		ReachableAt: "10.213.0.11"}
	got := *f
	got.NofileLines, got.Addresses, got.Ports8043 = nil, nil, nil
	if got.Hostname != want.Hostname || got.OSVersion != want.OSVersion || got.MemoryMB != want.MemoryMB || got.DiskFreeMB != want.DiskFreeMB ||
		got.SourceFreeMB != want.SourceFreeMB || got.Sudo != want.Sudo || got.IsRoot || got.Docker != want.Docker || got.Swarm != want.Swarm ||
		got.NodeID != want.NodeID || !got.IsManager || got.SwarmID != want.SwarmID || !got.NFSClient || got.NFSServer || got.NFSKernel ||
		!got.IPVS || got.ReachableAt != want.ReachableAt || got.CPUs != 4 || got.OSName != want.OSName || got.Kernel != want.Kernel {
		t.Errorf("facts\n%+v\nwant\n%+v", got, want)
	}
	if len(f.NofileLines) != 2 || f.NofileLines[1] != "*\thard\tnofile\t4096" || len(f.Addresses) != 2 || f.Ports8043[0] != "0.0.0.0:80 nginx" {
		t.Errorf("lists: %q %q %q", f.NofileLines, f.Addresses, f.Ports8043)
	}
}

func TestParseFactsNoDockerNotLinux(t *testing.T) {
	f, _, _ := parseFacts("uname_s=FreeBSD\nhostname=bsd\nuid=0\nsudo=root\n")
	if f.OSName != "FreeBSD" || f.OSID != "" || f.DockerAccess != "none" || f.Docker != "" || !f.IsRoot {
		t.Fatalf("%+v", f)
	}
	if sev, _ := osVerdict(f); sev != Blocker {
		t.Fatal("FreeBSD accepted")
	}
}

func TestPortFindings(t *testing.T) {
	bound := "bound=tcp/2377\nbound=tcp/7946\nbound=udp/7946\nbound=udp/4789\n"
	all := func(h string) string {
		return "got=tcp/2377 " + h + "\ngot=tcp/7946 " + h + "\ngot=udp/7946 " + h + "\ngot=udp/4789 " + h + "\n"
	}
	ok := "tcp/2377=ok\ntcp/7946=ok\n"
	cases := []struct {
		name     string
		listener string
		senders  map[string]string
		want     []string // host code: message part
	}{
		{"all reached", bound + all("w1") + all("w2"), map[string]string{"w1": ok, "w2": ok}, nil},
		{"udp blocked for one host", bound + all("w1") + "got=tcp/2377 w2\ngot=tcp/7946 w2\n", map[string]string{"w1": ok, "w2": ok},
			[]string{"w2 swarm-ports: cannot reach the manager (10.0.0.1) on 7946/udp, 4789/udp"}},
		{"nothing reached", bound, map[string]string{"w1": "tcp/2377=fail\ntcp/7946=fail\n"},
			[]string{"w1 swarm-ports: cannot reach the manager (10.0.0.1) on 2377/tcp, 7946/tcp, 7946/udp, 4789/udp"}},
		{"busy tcp port judged by the connect", "busy=tcp/2377\nbound=tcp/7946\nbusy=udp/7946\nbound=udp/4789\ngot=tcp/7946 w1\ngot=udp/4789 w1\n",
			map[string]string{"w1": "tcp/2377=fail\ntcp/7946=ok\n"}, []string{"w1 swarm-ports: cannot reach the manager (10.0.0.1) on 2377/tcp"}},
		{"no python3 on the manager", "nopython\n", map[string]string{"w1": ok}, []string{"m swarm-ports: could not probe"}},
		{"no python3 on a host", bound + all("w1"), map[string]string{"w1": ok, "w2": "nopython\n"}, []string{"w2 swarm-ports: could not probe"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := portFindings("m", "10.0.0.1", tc.listener, tc.senders)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %q", got, tc.want)
			}
			for i, f := range got {
				if s := f.Host + " " + f.Code + ": " + f.Message; !strings.HasPrefix(s, tc.want[i]) || f.Fix == "" {
					t.Errorf("got %q, want %q", s, tc.want[i])
				}
				if want := map[bool]Severity{true: Warning, false: Blocker}[strings.Contains(f.Message, "could not probe")]; f.Severity != want {
					t.Errorf("%s: severity %s, want %s", f.Message, f.Severity, want)
				}
			}
		})
	}
}
