//go:build lab && vmlab

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// TestVMEndToEnd is the sysadmin's road on guests with their own kernel (the
// VM tier: testdata/lab/up --vm 3): the sudo user with the password on stdin,
// NFS export of the checkout and publishing through the ingress mesh, from
// bare guests to review all done and a second apply that changes nothing.
// Then the hosts themselves: fstab and live NFS mounts holding the manager's
// marker on the workers, https://DOMAIN/ answered on every node's 443 (the
// nginx task runs on one), and the registry at 127.0.0.1:5000 on every node.
//
// Run: testdata/lab/up --vm 3 && go test -tags lab,vmlab -run TestVMEndToEnd -count=1 -timeout 60m .
// Without the VM tier it fails (never skips): testdata/test-all runs it.
func TestVMEndToEnd(t *testing.T) {
	lab := labtest.LoadVM(t)
	bare := true
	for _, h := range lab.Hosts {
		if out, err := lab.Exec(t, h.Name, "sh", "-c", "command -v docker || true"); err != nil || strings.TrimSpace(out) != "" {
			bare = false
		}
	}
	if !bare { // a previous run used these guests: fresh ones (~1 min warm)
		lab.Reset(t)
	}
	dir := t.TempDir()
	bin := testBinary(t)
	cluster, data := labClusterCopy(t, lab, dir)
	c, err := steps.ParseCluster(cluster, data)
	if err != nil {
		t.Fatal(err)
	}
	if c.NFS.Mode != "export" || c.Swarm.PublishMode != "ingress" || c.Hosts[0].User != lab.SudoUser {
		t.Fatalf("the VM tier's cluster file is not the sysadmin's road: nfs %q, publish %q, user %q",
			c.NFS.Mode, c.Swarm.PublishMode, c.Hosts[0].User)
	}
	known := filepath.Join(dir, "known_hosts")
	run := func(args ...string) (string, error) {
		args = append(args, "-f", cluster, "--known-hosts", known, "--ssh-config", "none", "--sudo-password-stdin")
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(lab.SudoPassword + "\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		t.Logf("aginstall %s: %s", strings.Join(args[:2], " "), time.Since(start).Round(time.Second))
		return out.String(), err
	}

	// 1. From bare guests to the deployed stack.
	out, err := run("apply", "--yes")
	if err != nil {
		t.Fatalf("first apply failed: %v\n%s", err, tail(out, 80))
	}
	first := latestLog(t, dir)

	// 2. Review: every step done on every host.
	out, err = run("review", "--json")
	if err != nil {
		t.Fatalf("review: %v\n%s", err, tail(out, 40))
	}
	var review struct {
		Steps []steps.StepReport `json:"steps"`
	}
	if err := json.Unmarshal([]byte(jsonPart(out)), &review); err != nil {
		t.Fatalf("review JSON: %v\n%s", err, out)
	}
	if len(review.Steps) != len(steps.All()) {
		t.Fatalf("review lists %d steps, the engine has %d", len(review.Steps), len(steps.All()))
	}
	for _, s := range review.Steps {
		for _, ch := range s.Checks {
			if ch.Status != steps.Done {
				t.Errorf("review: %s on %s is %s: %s", s.ID, ch.Host, ch.Status, ch.Reason)
			}
		}
	}

	// 3. A second apply runs no mutating command, by the runner's own record.
	out, err = run("apply", "--yes")
	if err != nil {
		t.Fatalf("second apply failed: %v\n%s", err, tail(out, 40))
	}
	second := latestLog(t, dir)
	if second == first {
		t.Fatal("the second apply wrote no log of its own")
	}
	raw, _ := os.ReadFile(second)
	if m := regexp.MustCompile(`(?m)^.* \| change .*$`).FindAllString(string(raw), -1); len(m) > 0 {
		t.Fatalf("the second apply changed things:\n%s", strings.Join(m, "\n"))
	}

	// 4. The hosts: nodes, labels, the stack converged, the course.
	labAssertInstalled(t, lab, c)
	vmAssertNFS(t, lab, c)
	vmAssertMesh(t, lab, c)
	vmAssertRegistry(t, lab, c)
}

// vmAssertNFS: the manager exports the checkout; every worker has the fstab
// line and a live NFS mount of it, through which it reads the marker the
// manager wrote in its own folder.
func vmAssertNFS(t *testing.T, lab *labtest.Lab, c *steps.Cluster) {
	t.Helper()
	p := c.Source.Path
	mgr := lab.Host(c.Manager)
	marker, err := lab.Exec(t, c.Manager, "cat", p+"/.aginstall-shared")
	if err != nil || strings.TrimSpace(marker) == "" {
		t.Fatalf("the manager has no marker in %s: %q %v", p, marker, err)
	}
	exports, err := lab.Exec(t, c.Manager, "exportfs", "-v")
	if err != nil || !strings.Contains(exports, p) {
		t.Errorf("the manager does not export %s: %q %v", p, exports, err)
	}
	for _, h := range lab.Hosts {
		if h.Name == c.Manager {
			continue
		}
		fstab, err := lab.ReadFile(t, h.Name, "/etc/fstab")
		if err != nil {
			t.Fatal(err)
		}
		want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(mgr.Address+":"+p) + `\s+` + regexp.QuoteMeta(p) + `\s+nfs\s`)
		if !want.Match(fstab) {
			t.Errorf("%s: /etc/fstab lacks the NFS line for %s from %s:\n%s", h.Name, p, mgr.Address, fstab)
		}
		mnt, err := lab.Exec(t, h.Name, "findmnt", "-n", "-o", "SOURCE,FSTYPE", "--mountpoint", p)
		if f := strings.Fields(mnt); err != nil || len(f) != 2 || f[0] != mgr.Address+":"+p || !strings.HasPrefix(f[1], "nfs") {
			t.Errorf("%s: %s is not an NFS mount of %s:%s: %q %v", h.Name, p, mgr.Address, p, mnt, err)
		}
		got, err := lab.Exec(t, h.Name, "cat", p+"/.aginstall-shared")
		if err != nil || got != marker {
			t.Errorf("%s reads marker %q through the mount, the manager wrote %q (%v)", h.Name, got, marker, err)
		}
	}
}

// vmAssertMesh: nginx is published through the ingress mesh and runs on the
// webserver node only, yet https://DOMAIN/ answers on every node's 443 with
// the site's certificate (checked against the lab's CA, no skipping).
func vmAssertMesh(t *testing.T, lab *labtest.Lab, c *steps.Cluster) {
	t.Helper()
	nginx := c.Stack + "_nginx"
	ports, err := lab.Exec(t, c.Manager, "docker", "service", "inspect", nginx, "--format", "{{json .Endpoint.Ports}}")
	if err != nil || !strings.Contains(ports, `"PublishedPort":443`) || !strings.Contains(ports, `"PublishMode":"ingress"`) {
		t.Fatalf("%s is not published on 443 through the ingress mesh: %s %v", nginx, ports, err)
	}
	nodes, err := lab.Exec(t, c.Manager, "docker", "service", "ps", nginx, "--filter", "desired-state=running", "--format", "{{.Node}}")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Fields(nodes); len(n) != 1 || n[0] != c.Manager {
		t.Logf("nginx runs on %v", n) // informative: the mesh must answer everywhere anyway
	}
	pem, err := os.ReadFile(filepath.Join(lab.OutDir, "tls", "autograder.cert"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the lab's certificate does not parse")
	}
	without := 0
	for _, h := range lab.Hosts {
		if !strings.Contains(nodes, h.Name) {
			without++
		}
		body, err := vmGetHTTPS(h.Address, c.Site.Domain, pool)
		if err != nil {
			t.Errorf("https://%s/ on %s (%s:443): %v", c.Site.Domain, h.Name, h.Address, err)
			continue
		}
		if !strings.Contains(body, "MAX_COMMAND_TIMEOUT") {
			t.Errorf("https://%s/ on %s answered, but not with the website: %q", c.Site.Domain, h.Name, tail(body, 5))
		}
	}
	if without == 0 {
		t.Errorf("nginx runs on every node (%q): the test cannot tell the mesh from the task", nodes)
	}
}

// vmGetHTTPS gets https://domain/ from addr:443 (curl --resolve), with a
// bounded retry: the mesh may need a few seconds after a deploy.
func vmGetHTTPS(addr, domain string, pool *x509.CertPool) (string, error) {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: domain},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, net.JoinHostPort(addr, "443"))
			},
		},
	}
	defer client.CloseIdleConnections()
	var last error
	for i := 0; i < 20; i++ {
		resp, err := client.Get("https://" + domain + "/")
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && rerr == nil {
				return string(b), nil
			}
			err = fmt.Errorf("HTTP %d %v", resp.StatusCode, rerr)
		}
		last = err
		time.Sleep(3 * time.Second)
	}
	return "", last
}

// vmAssertRegistry: every node reaches the cluster's registry at
// 127.0.0.1:5000 (through the mesh on nodes without the registry task) and
// it holds the stack's images.
func vmAssertRegistry(t *testing.T, lab *labtest.Lab, c *steps.Cluster) {
	t.Helper()
	const get = `import json, urllib.request
print(json.dumps(json.load(urllib.request.urlopen("http://127.0.0.1:5000/v2/_catalog", timeout=10))))`
	for _, h := range lab.Hosts {
		out, err := lab.Exec(t, h.Name, "python3", "-c", get)
		if err != nil {
			t.Errorf("%s: 127.0.0.1:5000: %v", h.Name, err)
			continue
		}
		var cat struct {
			Repositories []string `json:"repositories"`
		}
		if err := json.Unmarshal([]byte(out), &cat); err != nil || len(cat.Repositories) == 0 {
			t.Errorf("%s: the registry at 127.0.0.1:5000 lists no images: %q %v", h.Name, out, err)
		}
	}
}
