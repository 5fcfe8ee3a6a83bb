package edit

import (
	"fmt"
	"strings"
)

// The guide's export and mount options for the shared source folder.
const (
	ExportOptions   = "rw,sync,no_root_squash,no_subtree_check"
	NFSMountOptions = "rw,hard,intr"
)

// ExportsLine is the one /etc/exports line for the source path.
func ExportsLine(path string, clients []string) string {
	if strings.ContainsAny(path, " \t\"") {
		path = `"` + path + `"`
	}
	var b strings.Builder
	b.WriteString(path)
	for _, c := range clients {
		fmt.Fprintf(&b, " %s(%s)", c, ExportOptions)
	}
	return b.String()
}

// fstabEscape writes a path as fstab wants it (octal escapes).
func fstabEscape(p string) string {
	r := strings.NewReplacer("\\", `\134`, " ", `\040`, "\t", `\011`, "\n", `\012`)
	return r.Replace(p)
}

func FstabUnescape(p string) string {
	r := strings.NewReplacer(`\134`, "\\", `\040`, " ", `\011`, "\t", `\012`, "\n")
	return r.Replace(p)
}

// FstabLine is the guide's fstab line, with the manager's address.
func FstabLine(manager, path string) string {
	p := fstabEscape(path)
	return fmt.Sprintf("%s:%s %s nfs %s 0 0", manager, p, p, NFSMountOptions)
}

// replaceLine keeps exactly one line for a key: the first line whose
// key matches becomes want (unchanged bytes if it already is), later ones are
// dropped, and want is appended when none matched. Comments and other lines
// stay byte-identical.
func replaceLine(old []byte, want string, key func(line string, fields []string) bool) []byte {
	lines := strings.SplitAfter(string(old), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out []string
	found := false
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || !key(l, f) {
			out = append(out, l)
			continue
		}
		if found {
			continue
		}
		found = true
		if strings.Join(f, " ") == want {
			out = append(out, l)
		} else if strings.HasSuffix(l, "\n") {
			out = append(out, want+"\n")
		} else {
			out = append(out, want)
		}
	}
	if !found {
		if n := len(out); n > 0 && !strings.HasSuffix(out[n-1], "\n") {
			out[n-1] += "\n"
		}
		out = append(out, want+"\n")
	}
	return []byte(strings.Join(out, ""))
}

// Exports sets the export line of path in /etc/exports.
func Exports(old []byte, path string, clients []string) []byte {
	return replaceLine(old, ExportsLine(path, clients), func(l string, f []string) bool {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, `"`); ok { // a quoted path may hold spaces
			p, _, _ := strings.Cut(rest, `"`)
			return p == path
		}
		return f[0] == path
	})
}

// Fstab sets the mount of path in /etc/fstab; a stale line for
// the same mount point (another server, other options) is replaced.
func Fstab(old []byte, manager, path string) []byte {
	return replaceLine(old, FstabLine(manager, path), func(_ string, f []string) bool {
		return len(f) >= 2 && FstabUnescape(f[1]) == path
	})
}
