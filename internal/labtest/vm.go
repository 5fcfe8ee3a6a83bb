package labtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alessio/shellescape"
)

// The VM tier (testdata/lab/up --vm N): guests with their own kernel (User-Mode
// Linux) on 10.214.0.0/24, for NFS, IPVS and the ingress mesh. Its lab.json
// has the same shape with kind "vm" but no namespaces, PIDs 1 or overlay dirs:
// Exec and ReadFile go over SSH as root, ReadUpper and Stop/StartHost are
// not available.

// KindVM is lab.json's kind for the VM tier (besides "full" and "light").
const KindVM = "vm"

// VMNotUpMessage is what LoadVM reports when the VM tier is not up.
const VMNotUpMessage = "VM tier not up: run testdata/lab/up --vm 3"

// VMOutDir is $AGLAB_VM_OUT, or testdata/lab/out-vm under the repository root.
func VMOutDir() (string, error) {
	if d := os.Getenv("AGLAB_VM_OUT"); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := FindRepoRoot(wd)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "lab", "out-vm"), nil
}

// LoadVM reads the VM tier's lab.json, or fails the test with VMNotUpMessage.
func LoadVM(t testing.TB) *Lab {
	t.Helper()
	dir, err := VMOutDir()
	if err != nil {
		t.Fatalf("%s (%v)", VMNotUpMessage, err)
		return nil
	}
	l, err := LoadDir(dir)
	if err == nil && l.Kind != KindVM {
		err = errors.New("lab.json there is of kind " + l.Kind)
	}
	if err != nil {
		t.Fatalf("%s (%v)", VMNotUpMessage, err)
		return nil
	}
	return l
}

// vmCommand is argv as one shell command line for SSH, every word quoted.
func vmCommand(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellescape.Quote(a)
	}
	return strings.Join(q, " ")
}

// notOnVM fails the test: what a VM guest cannot offer (its disk is its own).
func (l *Lab) notOnVM(t testing.TB, what string) {
	t.Helper()
	if l.Kind == KindVM {
		t.Fatalf("labtest: %s is not available on the VM tier", what)
	}
}
