package steps

import (
	"os"
	"strings"
	"testing"
)

func readGood(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/cluster/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseClusterGood(t *testing.T) {
	c, err := ParseCluster("aginstall.yaml", readGood(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "fall-2027" || c.Manager != "node1" || len(c.Hosts) != 2 {
		t.Fatalf("parsed %+v", c)
	}
	if c.Hosts[1].Port != 0 || c.Hosts[0].Bastion != "admin@jump.example.edu:22" {
		t.Fatalf("hosts %+v", c.Hosts)
	}
	if c.Tuning.CeleryConcurrency["deferred_grader"] != 2 || c.Site.PostgresImage != "postgres:15" {
		t.Fatalf("tuning/site %+v %+v", c.Tuning, c.Site)
	}
	if c.Swarm.PublishMode != "ingress" || c.NFS.Clients != "cluster" || c.Site.OAuthProvider != "google" {
		t.Fatalf("defaults not applied: %+v %+v", c.Swarm, c.NFS)
	}
	if got := c.Workers(); len(got) != 1 || got[0] != "node2" {
		t.Fatalf("workers %v", got)
	}
}

// Each bad file is refused with file:line, the key path and what is allowed.
func TestParseClusterRefusals(t *testing.T) {
	good := string(readGood(t))
	cases := []struct {
		name, from, to, want string
	}{
		{"misspelt top key", "manager: node1", "manger: node1", `aginstall.yaml:2: manger: unknown key "manger" (did you mean "manager"?); allowed here: admin, docker, hosts, manager, name, nfs, site, source, stack, swarm, tuning`},
		{"misspelt host key", "    adress: x", "", ""},
		{"misspelt nested key", "  gunicorn_workers: 4", "  gunicorn_worker: 4", `aginstall.yaml:20: tuning.gunicorn_worker: unknown key "gunicorn_worker" (did you mean "gunicorn_workers"?)`},
		{"bad port", "    port: 22", "    port: 70000", `aginstall.yaml:7: hosts[0].port: port 70000 is out of range: use 1-65535`},
		{"port not a number", "    port: 22", "    port: twenty", `aginstall.yaml:7`},
		{"unknown manager", "manager: node1", "manager: node9", `aginstall.yaml:2: manager: "node9" is not one of the hosts (node1, node2)`},
		{"duplicate host", "  - name: node2", "  - name: node1", `aginstall.yaml:12: hosts[1].name: duplicate host name "node1" (also hosts[0]); every host needs its own name`},
		{"bad install", "{install: official}", "{install: snap}", `aginstall.yaml:16: docker.install: "snap" is not allowed: use official, distro or skip`},
		{"workers range", "gunicorn_workers: 4", "gunicorn_workers: 65", `aginstall.yaml:20: tuning.gunicorn_workers: 65 is out of range: use 1-64`},
		{"celery range", "grader: 2, fast_grader", "grader: 0, fast_grader", `tuning.celery_concurrency.grader: 0 is out of range: use 1-32`},
		{"celery unknown", "rerun_grader: 2}", "rerun_graders: 2}", `unknown grader "rerun_graders"`},
		{"timeout range", "max_subprocess_timeout: 90", "max_subprocess_timeout: 3601", `aginstall.yaml:23: tuning.max_subprocess_timeout: 3601 is out of range: use 1-3600 seconds`},
		{"bad size", "client_max_body_size: 30M", "client_max_body_size: 30 MB", `tuning.client_max_body_size: "30 MB" is not an nginx size`},
		{"bad domain", "domain: autograder.example.edu", "domain: autograder example", `aginstall.yaml:26: site.domain: "autograder example" is not a valid domain name`},
		{"bad address", "address: 10.0.0.12", "address: 10.0.0.12;rm -rf /", `aginstall.yaml:13: hosts[1].address: "10.0.0.12;rm -rf /" is neither an IP address nor a host name`},
		{"bad pin", `"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`, `"MD5:aa:bb"`, `aginstall.yaml:14: hosts[1].host_key: "MD5:aa:bb" is not a SHA256 fingerprint`},
		{"relative path", "path: /home/ubuntu/autograder-full-stack", "path: autograder-full-stack", `source.path: "autograder-full-stack" must be an absolute, clean path`},
		{"bad ref", "ref: master", "ref: --upload-pack=x", `source.ref: "--upload-pack=x" is not a valid branch, tag or commit`},
		{"bad bastion", "admin@jump.example.edu:22", "admin@jump.example.edu:0", `bastion "admin@jump.example.edu:0": port "0" is not 1-65535`},
		{"bad email", "you@example.edu", "you-at-example", `admin.email: "you-at-example" is not an email address`},
		{"labels not a list", "    labels: [registry, grader]", "    labels: {registry: true}", `aginstall.yaml:15: hosts[1].labels: expected a list, found a mapping`},
		{"syntax error", "stack: ag-stack", "stack: [ag-stack", `aginstall.yaml:`},
		{"apt_url not a URL", "{install: official}", "{install: official, apt_url: mirror.example.edu/docker}", `aginstall.yaml:16: docker.apt_url: "mirror.example.edu/docker" is not an http:// or https:// URL`},
		{"apt_key with a space", "{install: official}", `{install: official, apt_key: "https://m.example.edu/a key"}`, `aginstall.yaml:16: docker.apt_key: "https://m.example.edu/a key" must not contain spaces`},
		{"apt_url with distro", "{install: official}", "{install: distro, apt_url: https://m.example.edu/docker}", `aginstall.yaml:16: docker.apt_url: only docker.install: official uses it (docker.install is distro)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := good
			if tc.to != "" || !strings.HasPrefix(tc.from, "    adress") {
				if !strings.Contains(src, tc.from) {
					t.Fatalf("fixture lacks %q", tc.from)
				}
				src = strings.Replace(src, tc.from, tc.to, 1)
			} else {
				src = strings.Replace(src, "    address: 10.0.0.12", "    adress: 10.0.0.12", 1)
				tc.want = `aginstall.yaml:13: hosts[1].adress: unknown key "adress" (did you mean "address"?)`
			}
			_, err := ParseCluster("aginstall.yaml", []byte(src))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%s\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

func TestPinHostKey(t *testing.T) {
	good := readGood(t)
	fp := "SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	out, err := PinHostKey(good, "node1", fp)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(good), "  - name: node1\n", "  - name: node1\n    host_key: \""+fp+"\"\n", 1)
	if string(out) != want {
		t.Fatalf("pin added wrongly:\n%s", out)
	}
	out2, err := PinHostKey(good, "node2", fp)
	if err != nil {
		t.Fatal(err)
	}
	want2 := strings.Replace(string(good), `"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"   # pinned`, `"`+fp+`"   # pinned`, 1)
	if string(out2) != want2 {
		t.Fatalf("re-pin changed more than the value:\n%s", out2)
	}
	if _, err := ParseCluster("x.yaml", out); err != nil {
		t.Fatal(err)
	}
	if _, err := PinHostKey(good, "node9", fp); err == nil {
		t.Fatal("pinned an unknown host")
	}
}
