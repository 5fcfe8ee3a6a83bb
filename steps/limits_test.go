package steps

import (
	"strings"
	"testing"

	"aginstall/steps/edit"
)

func TestLimitsDiffShowsAChange(t *testing.T) {
	old := []byte("a\n* soft nofile 4096\n" + "* hard nofile 1000000\n")
	d := fileDiff(limitsPath, old, edit.Limits(old))
	if !strings.Contains(d, "-* soft nofile 4096\n+* soft nofile 1000000\n") || !strings.Contains(d, "a/etc/security/limits.conf") {
		t.Fatalf("diff:\n%s", d)
	}
}
