package labtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVMCommandQuotesEveryWord(t *testing.T) {
	got := vmCommand([]string{"sh", "-c", "docker ps -q -f 'label=x' | head -n1", "it's"})
	want := `sh -c 'docker ps -q -f '"'"'label=x'"'"' | head -n1' 'it'"'"'s'`
	if got != want {
		t.Fatalf("vmCommand = %s\nwant        %s", got, want)
	}
}

// LoadVM reads $AGLAB_VM_OUT/lab.json and accepts only the VM tier's kind:
// a test on the VM tier must never run against the nspawn lab by mistake.
func TestLoadVMWantsKindVM(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AGLAB_VM_OUT", dir)
	vm := `{"kind": "vm", "bridge": "10.214.0.1", "hosts": [{"name": "node1", "address": "10.214.0.11", "pid": 7}]}`
	if err := os.WriteFile(filepath.Join(dir, "lab.json"), []byte(vm), 0o600); err != nil {
		t.Fatal(err)
	}
	if l := LoadVM(t); l.Kind != KindVM || l.Host("node1").Address != "10.214.0.11" || l.OutDir != dir {
		t.Fatalf("LoadVM = %+v", l)
	}
	if err := os.WriteFile(filepath.Join(dir, "lab.json"), []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &fatalRecorder{TB: t}
	if l := LoadVM(rec); l != nil || !strings.Contains(rec.msg, "VM tier not up") || !strings.Contains(rec.msg, "kind full") {
		t.Fatalf("LoadVM of a full lab = %+v, message %q", l, rec.msg)
	}
}
