package steps

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"aginstall/steps/edit"
)

func TestMergeDaemonJSON(t *testing.T) {
	cases := []struct{ name, old, want string }{
		{"missing file", "", "{\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\n    \"max-file\": \"5\",\n    \"max-size\": \"100m\"\n  }\n}\n"},
		{"lab's mirrors kept, in order", `{
  "registry-mirrors": ["http://10.213.0.1:5000"],
  "storage-driver": "overlay2"
}
`, "{\n  \"registry-mirrors\": [\n    \"http://10.213.0.1:5000\"\n  ],\n  \"storage-driver\": \"overlay2\",\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\n    \"max-file\": \"5\",\n    \"max-size\": \"100m\"\n  }\n}\n"},
		{"other log opts kept, driver changed in place", `{"log-driver":"journald","log-opts":{"tag":"x","max-size":"1g"},"debug":true}`,
			"{\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\n    \"max-file\": \"5\",\n    \"max-size\": \"100m\",\n    \"tag\": \"x\"\n  },\n  \"debug\": true\n}\n"},
		{"already right: byte-identical", "{ \"log-opts\": {\"max-size\": \"100m\", \"max-file\": \"5\"},\n\"log-driver\": \"json-file\" }",
			"{ \"log-opts\": {\"max-size\": \"100m\", \"max-file\": \"5\"},\n\"log-driver\": \"json-file\" }"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := edit.DaemonJSON([]byte(tc.old))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
			again, _ := edit.DaemonJSON(got)
			if string(again) != string(got) {
				t.Fatalf("not idempotent:\n%s", again)
			}
		})
	}
	for _, bad := range []string{"[1]", "{\"a\": }", "{} x", `{"log-opts": 3}`} {
		if _, err := edit.DaemonJSON([]byte(bad)); err == nil || !strings.Contains(err.Error(), "daemon.json") {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestPickComposeCandidate(t *testing.T) {
	debian12 := "docker-compose:\n  Installed: (none)\n  Candidate: 1.29.2-3\n  Version table:\n     1.29.2-3 500\n"
	ubuntu := "docker-compose-v2:\n  Installed: (none)\n  Candidate: 2.24.6\n" + debian12
	none := "docker-compose-plugin:\n  Installed: (none)\n  Candidate: (none)\n"
	for in, want := range map[string]string{debian12: "docker-compose", ubuntu: "docker-compose-v2", none: "", "": ""} {
		if got := pickCandidate(in, composePkgs); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func TestOfficialDockerCommands(t *testing.T) {
	in := dockerInfo{installed: map[string]bool{}, osID: "ubuntu", codename: "noble", arch: "amd64"}
	before, list, after := officialRepoCmds(in, DockerSpec{Install: "official"})
	var lines []string
	for _, c := range append(before, after...) {
		lines = append(lines, c.line)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"curl -fsSL --max-time 60 https://download.docker.com/linux/ubuntu/gpg -o /etc/apt/keyrings/docker.asc",
		"chmod a+r /etc/apt/keyrings/docker.asc",
		"DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in\n%s", want, all)
		}
	}
	if string(list) != "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable\n" {
		t.Errorf("list %q", list)
	}
	if strings.Contains(all, "apt-key") {
		t.Error("apt-key is deprecated")
	}
	in.osID, in.codename, in.keyring = "debian", "bookworm", true
	before, list, _ = officialRepoCmds(in, DockerSpec{Install: "official"})
	if len(before) != 0 || !strings.Contains(string(list), "linux/debian bookworm") {
		t.Errorf("debian with keyring: %v %q", before, list)
	}
	for _, p := range officialPkgs {
		in.installed[p] = true
	}
	if b, l, a := officialRepoCmds(in, DockerSpec{Install: "official"}); b != nil || l != nil || a != nil {
		t.Error("installed packages reinstalled")
	}
}

// A mirror from the cluster file replaces Docker's URLs in the key fetch
// and the sources line; the key defaults to the mirror's /gpg.
func TestOfficialDockerMirror(t *testing.T) {
	in := dockerInfo{installed: map[string]bool{}, osID: "debian", codename: "bookworm", arch: "amd64"}
	spec := DockerSpec{Install: "official", AptURL: "http://mirror.example.edu/docker/linux/debian/"}
	before, list, _ := officialRepoCmds(in, spec)
	if string(list) != "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] http://mirror.example.edu/docker/linux/debian bookworm stable\n" {
		t.Errorf("list %q", list)
	}
	if len(before) != 3 || !strings.Contains(before[2].line, "curl -fsSL --max-time 60 http://mirror.example.edu/docker/linux/debian/gpg -o /etc/apt/keyrings/docker.asc") {
		t.Errorf("key fetch %+v", before)
	}
	spec.AptKey = "https://keys.example.edu/docker.asc"
	before, _, _ = officialRepoCmds(in, spec)
	if !strings.Contains(before[2].line, " https://keys.example.edu/docker.asc -o ") || strings.Contains(before[2].line, "download.docker.com") {
		t.Errorf("key fetch %+v", before[2])
	}
	if (dockerStep{}).Inputs(&Cluster{Docker: DockerSpec{Install: "official"}}) != "official" {
		t.Error("a cluster file without apt_url must keep the fingerprint of its state")
	}
}

func TestDockerProbeQuotesUser(t *testing.T) {
	c := &Cluster{Hosts: []HostSpec{{Name: "h", User: "o'brien x"}}}
	cmd := dockerProbeCmd(c, "h")
	if cmd.Line != `env 'AG_USER=o'"'"'brien x' sh -s` || !strings.Contains(string(cmd.Stdin), "id -nG") {
		t.Fatalf("%q", cmd.Line)
	}
	in := parseDockerInfo("user=ag\npkg=docker.io\npkg=docker-compose\ngroup=1\nactive=1\nos=debian\ncodename=bookworm\narch=amd64\n")
	if in.user != "ag" || !in.installed["docker.io"] || !in.inGroup || in.enabled || !in.active || in.codename != "bookworm" {
		t.Fatalf("%+v", in)
	}
}

// The probe's one dpkg-query and one systemctl say what one call per
// package and per question said: stand-ins print what the real tools print.
func TestDockerProbeScriptParses(t *testing.T) {
	bin := t.TempDir()
	fake := map[string]string{
		// dpkg-query -W prints the packages it knows, in its own order, and
		// complains on stderr about the others.
		"dpkg-query": "printf 'ii  docker-ce\\nrc  docker.io\\nii  containerd.io\\n'; echo 'dpkg-query: no packages found matching docker-compose' >&2; exit 1",
		"systemctl":  "printf 'ActiveState=active\\nUnitFileState=enabled\\n'",
		"id":         "case $1 in -un) echo root ;; -nG) echo 'agadmin sudo docker' ;; esac",
		"dpkg":       "echo amd64",
	}
	for name, body := range fake {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func() ([]byte, error) {
		cmd := exec.Command("sh", "-c", dockerProbeScript)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "AG_USER=agadmin"}
		return cmd.Output()
	}
	out, err := run()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	in := parseDockerInfo(string(out))
	if in.user != "agadmin" || !in.inGroup || !in.enabled || !in.active || !in.installed["docker-ce"] || !in.installed["containerd.io"] ||
		in.installed["docker.io"] || len(in.installed) != 2 || in.arch != "amd64" {
		t.Fatalf("%+v\n%s", in, out)
	}
	fake["systemctl"] = "printf 'ActiveState=inactive\\nUnitFileState=disabled\\n'"
	os.WriteFile(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\n"+fake["systemctl"]+"\n"), 0o755)
	out, _ = run()
	if in := parseDockerInfo(string(out)); in.enabled || in.active {
		t.Fatalf("stopped service: %+v\n%s", in, out)
	}
}

// daemon.json comes with the probe when the user may read it; anything but
// a strict base64 leaves it unread, so the check reads it with sudo.
func TestDockerProbeCarriesDaemonJSON(t *testing.T) {
	for _, tc := range []struct {
		out           string
		read, missing bool
		json          string
	}{
		{"daemonjson=eyJhIjoxfQo=\n", true, false, "{\"a\":1}\n"},
		{"daemonjson=\n", true, false, ""}, // an empty file
		{"daemonjson_missing=1\n", false, true, ""},
		{"daemonjson=eyJhIjoxfQo\n", false, false, ""},   // cut short
		{"daemonjson=eyJhIjox fQo=\n", false, false, ""}, // not base64
		{"user=ag\n", false, false, ""},                  // unreadable: nothing said
	} {
		in := parseDockerInfo(tc.out)
		f := in.daemonJSON
		if f.read != tc.read || f.missing != tc.missing || f.known() != (tc.read || tc.missing) || (tc.read && string(f.data) != tc.json) {
			t.Errorf("%q: read %v missing %v %q", tc.out, f.read, f.missing, f.data)
		}
	}
}
