//go:build lab

package labtest

import (
	"strings"
	"testing"
)

// TestLabHostsAnswer: with a lab up (testdata/lab/up), every host answers
// over SSH (lab key, strict host-key checking against the generated
// known_hosts) for root, agadmin and agnosudo, and over nsenter.
func TestLabHostsAnswer(t *testing.T) {
	l := Load(t)
	for _, h := range l.Hosts {
		t.Run(h.Name, func(t *testing.T) {
			for _, user := range []string{"root", l.SudoUser, l.NosudoUser} {
				out, err := l.SSH(t, h.Name, user, "hostname; id -un")
				if err != nil {
					t.Fatalf("ssh %s@%s: %v", user, h.Name, err)
				}
				if want := h.Name + "\n" + user + "\n"; out != want {
					t.Errorf("ssh %s@%s printed %q, want %q", user, h.Name, out, want)
				}
			}
			out, err := l.Exec(t, h.Name, "cat", "/etc/hostname")
			if err != nil || strings.TrimSpace(out) != h.Name {
				t.Fatalf("nsenter: %q, %v", out, err)
			}
			b, err := l.ReadFile(t, h.Name, "/etc/hostname")
			if err != nil || strings.TrimSpace(string(b)) != h.Name {
				t.Fatalf("ReadFile: %q, %v", b, err)
			}
			// sudo: agadmin must type the password; agnosudo cannot sudo.
			if _, err := l.SSH(t, h.Name, l.SudoUser, "sudo -n true"); err == nil {
				t.Errorf("%s: sudo -n worked without a password", l.SudoUser)
			}
			out, err = l.SSH(t, h.Name, l.SudoUser, "echo '"+l.SudoPassword+"' | sudo -S -p '' id -u")
			if err != nil || strings.TrimSpace(out) != "0" {
				t.Errorf("%s: sudo with the password: %q, %v", l.SudoUser, out, err)
			}
			if _, err := l.SSH(t, h.Name, l.NosudoUser, "echo x | sudo -S -p '' true"); err == nil {
				t.Errorf("%s: sudo worked", l.NosudoUser)
			}
			if l.Kind == "full" {
				out, err := l.Exec(t, h.Name, "systemctl", "is-active", "ssh", "aglab-cgroups-rw")
				if err != nil {
					t.Errorf("systemctl: %q, %v", out, err)
				}
			}
		})
	}
}

// TestLabStopStartHost: a stopped host stops answering; started again it
// answers with the same host key.
func TestLabStopStartHost(t *testing.T) {
	l := Load(t)
	if l.Kind != "full" {
		t.Skip("full lab only")
	}
	name := l.Hosts[len(l.Hosts)-1].Name
	l.StopHost(t, name)
	if _, err := l.SSH(t, name, "root", "true"); err == nil {
		t.Fatalf("%s answers SSH after StopHost", name)
	}
	l.StartHost(t, name)
	if out, err := l.SSH(t, name, "root", "hostname"); err != nil || strings.TrimSpace(out) != name {
		t.Fatalf("after StartHost: %q, %v", out, err)
	}
}
