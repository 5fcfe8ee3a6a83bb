package edit

import (
	"path/filepath"
	"slices"
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
			got := string(Limits([]byte(tc.old)))
			if got != tc.want {
				t.Fatalf("edit(%q)\n got %q\nwant %q", tc.old, got, tc.want)
			}
			if again := string(Limits([]byte(got))); again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
			if strings.Count(got, "soft nofile 1000000") != 1 && !strings.Contains(got, "\tsoft\t") {
				t.Fatalf("soft line not exactly once: %q", got)
			}
		})
	}
}

// The real files: Debian 12's limits.conf as shipped, Ubuntu's layout, and
// one an operator had already edited. Only nofile lines for * may change
// (or be added just above "# End of file"); a second run changes nothing.
func TestLimitsGolden(t *testing.T) {
	for _, name := range []string{"debian12.conf", "ubuntu2204.conf", "ubuntu2204-edited.conf"} {
		t.Run(name, func(t *testing.T) {
			old := readFile(t, filepath.Join(testdata, "limits", name))
			got := Limits(old)
			golden(t, filepath.Join("limits", name), got)
			if again := Limits(got); string(again) != string(got) {
				t.Fatalf("second run changed the file")
			}
			checkLimitsOnlyNofile(t, old, got)
		})
	}
}

// checkLimitsOnlyNofile fails unless every line removed from old is a
// "* <type> nofile" line and every line added is one of the two wanted.
func checkLimitsOnlyNofile(t *testing.T, old, got []byte) {
	t.Helper()
	for _, l := range changedLines(old, got) {
		f := strings.Fields(strings.Split(string(old), "\n")[l-1])
		if len(f) < 3 || f[0] != "*" || f[2] != "nofile" {
			t.Fatalf("line %d changed but is not a nofile line for *: %q", l, strings.Split(string(old), "\n")[l-1])
		}
	}
	var added []string
	for _, l := range strings.Split(string(got), "\n") {
		if !slices.Contains(strings.Split(string(old), "\n"), l) {
			added = append(added, l)
		}
	}
	for _, l := range added {
		if l != limitsWant["soft"] && l != limitsWant["hard"] {
			t.Fatalf("added line %q", l)
		}
	}
}

// FuzzLimits: any file, edited, keeps every line that is not a nofile line
// for *, has the wanted pair, and is a fixed point.
func FuzzLimits(f *testing.F) {
	for _, name := range []string{"debian12.conf", "ubuntu2204-edited.conf"} {
		f.Add(string(readFile(f, filepath.Join(testdata, "limits", name))))
	}
	for _, s := range []string{"", "* - nofile 1", "*\tsoft\tnofile\t1000000", "# End of file", "a\r\n* hard nofile 2\r\n", "* soft nofile"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, old string) {
		got := string(Limits([]byte(old)))
		if again := string(Limits([]byte(got))); again != got {
			t.Fatalf("not a fixed point: %q -> %q -> %q", old, got, again)
		}
		kept := func(s string) []string {
			var out []string
			for _, l := range strings.Split(s, "\n") {
				if f := strings.Fields(l); len(f) >= 3 && f[0] == "*" && f[2] == "nofile" && (f[1] == "soft" || f[1] == "hard" || f[1] == "-") {
					continue
				}
				out = append(out, strings.TrimSuffix(l, "\r"))
			}
			return slices.DeleteFunc(out, func(l string) bool { return l == "" })
		}
		if a, b := kept(old), kept(got); !slices.Equal(a, b) {
			t.Fatalf("other lines changed:\n%q\n%q", a, b)
		}
		for _, w := range []string{"soft", "hard"} {
			n := 0
			for _, l := range strings.Split(got, "\n") {
				if f := strings.Fields(l); len(f) >= 3 && f[0] == "*" && f[1] == w && f[2] == "nofile" {
					n++
					if len(f) != 4 || f[3] != "1000000" {
						t.Fatalf("%s line %q", w, l)
					}
				}
			}
			if n != 1 {
				t.Fatalf("%d %s nofile lines for * in %q", n, w, got)
			}
		}
	})
}
