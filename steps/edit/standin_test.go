package edit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The lab's stand-in checkout (testdata/lab/standin, kept by the lab
// session) is what the end-to-end run edits: the same settings must plan
// cleanly there and re-apply as a no-op. Skipped if it is not there.
func TestLabStandIn(t *testing.T) {
	root := "../../testdata/lab/standin"
	where := map[string]string{
		ComposeFile:     "autograder-full-stack/" + ComposeFile,
		NginxFile:       "autograder-full-stack/" + NginxFile,
		ProdEnvFile:     ProdEnvFile,
		ConstantsPyFile: ConstantsPyFile,
		ConstantsTSFile: ConstantsTSFile,
	}
	in := map[string][]byte{}
	for f, p := range where {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Skipf("no stand-in checkout: %v", err)
		}
		in[f] = b
	}
	out, ch, err := ApplyAll(in, full())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) == 0 {
		t.Fatal("no changes")
	}
	again, ch, err := ApplyAll(out, full())
	if err != nil || len(ch) != 0 {
		t.Fatalf("second apply: err %v, changes %v", err, ch)
	}
	for _, f := range Files {
		if !bytes.Equal(again[f], out[f]) {
			t.Errorf("%s changed on the second apply", f)
		}
	}
	if _, err := ComposeConstraints(in[ComposeFile]); err != nil {
		t.Error(err)
	}
}
