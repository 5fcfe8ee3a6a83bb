package steps

import (
	"strings"
	"testing"
)

func TestLimitsEdit(t *testing.T) {
	const soft, hard = "* soft nofile 1000000\n", "* hard nofile 1000000\n"
	debian := "# /etc/security/limits.conf\n#\n#*               soft    core            0\n#@student        -       maxlogins       4\n\n# End of file\n"
	cases := []struct{ name, old, want string }{
		{"empty file", "", soft + hard},
		{"debian default: before End of file", debian,
			strings.Replace(debian, "# End of file\n", soft+hard+"# End of file\n", 1)},
		{"already there", "x\n" + soft + hard, "x\n" + soft + hard},
		{"tabs kept when right", "*\tsoft\tnofile\t1000000\n*\thard\tnofile\t1000000\n", "*\tsoft\tnofile\t1000000\n*\thard\tnofile\t1000000\n"},
		{"one line present", "a\n" + soft + "b\n", "a\n" + soft + "b\n" + hard},
		{"different value changed in place", "a\n* soft nofile 4096\nb\n* hard nofile 8192\nc\n", "a\n" + soft + "b\n" + hard + "c\n"},
		{"duplicates dropped", soft + "* soft nofile 2\n" + hard + hard, soft + hard},
		{"dash line becomes the pair", "a\n*  -  nofile  65536\nb\n", "a\n" + soft + hard + "b\n"},
		{"other domains and items untouched", "root soft nofile 5\n@grp hard nofile 9\n* soft nproc 100\n",
			"root soft nofile 5\n@grp hard nofile 9\n* soft nproc 100\n" + soft + hard},
		{"comments untouched", "# * soft nofile 1024\n", "# * soft nofile 1024\n" + soft + hard},
		{"no final newline", "a", "a\n" + soft + hard},
		{"no final newline on changed line", "* soft nofile 1", "* soft nofile 1000000" + "\n" + hard},
		{"crlf elsewhere kept", "a\r\n", "a\r\n" + soft + hard},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(editLimits([]byte(tc.old)))
			if got != tc.want {
				t.Fatalf("edit(%q)\n got %q\nwant %q", tc.old, got, tc.want)
			}
			if again := string(editLimits([]byte(got))); again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
			if strings.Count(got, "soft nofile 1000000") != 1 && !strings.Contains(got, "\tsoft\t") {
				t.Fatalf("soft line not exactly once: %q", got)
			}
		})
	}
}

func TestLimitsDiffShowsAChange(t *testing.T) {
	old := []byte("a\n* soft nofile 4096\n" + "* hard nofile 1000000\n")
	d := fileDiff(limitsPath, old, editLimits(old))
	if !strings.Contains(d, "-* soft nofile 4096\n+* soft nofile 1000000\n") || !strings.Contains(d, "a/etc/security/limits.conf") {
		t.Fatalf("diff:\n%s", d)
	}
}
