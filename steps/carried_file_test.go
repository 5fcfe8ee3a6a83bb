package steps

import "testing"

// A carried file's base64 shows as its size in the pane and the log; other
// lines, short values and look-alike keys show as they are.
func TestCarriedShown(t *testing.T) {
	long := "IyBsaW1pdHMuY29uZgoqIHNvZnQgbm9maWxlIDEwMDAwMDAK"
	for _, tc := range []struct{ in, want string }{
		{carriedLimitsConf + "=" + long, "limits_conf=<48 bytes of base64, not shown>"},
		{carriedDaemonJSON + "=" + long, "daemonjson=<48 bytes of base64, not shown>"},
		{"daemonjson=e30K", "daemonjson=e30K"},
		{"limits_conf_missing=1", "limits_conf_missing=1"},
		{"docker=" + long, "docker=" + long},
		{"Setting up docker-ce (5:29.1.0-1~debian.12~bookworm) ...", "Setting up docker-ce (5:29.1.0-1~debian.12~bookworm) ..."},
	} {
		if got := carriedShown(tc.in); got != tc.want {
			t.Errorf("carriedShown(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
