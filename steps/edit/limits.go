package edit

import "strings"

// limitsWant holds the two lines the guide adds to limits.conf: grading
// workers run many processes and hit the default open-file limit.
var limitsWant = map[string]string{
	"soft": "* soft nofile 1000000",
	"hard": "* hard nofile 1000000",
}

// Limits returns limits.conf with exactly one "* soft nofile
// 1000000" and one "* hard nofile 1000000". The first existing nofile line
// for * of each type is changed in place (so the diff shows a change, not an
// addition), later ones of that type are dropped, a "* - nofile" line is
// replaced by the pair; missing lines go before "# End of file" or at the end.
// Every other line stays byte-identical.
func Limits(old []byte) []byte {
	lines := strings.SplitAfter(string(old), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "*" || f[2] != "nofile" {
			out = append(out, l)
			continue
		}
		eol := "\n"
		if !strings.HasSuffix(l, "\n") {
			eol = ""
		}
		var types []string
		switch f[1] {
		case "soft", "hard":
			types = []string{f[1]}
		case "-":
			types = []string{"soft", "hard"}
		default:
			out = append(out, l)
			continue
		}
		var repl []string
		for _, t := range types {
			if !seen[t] {
				seen[t] = true
				repl = append(repl, limitsWant[t])
			}
		}
		if len(repl) == 1 && strings.Join(f, " ") == repl[0] {
			out = append(out, l) // already right (maybe with tabs): keep its exact bytes
			continue
		}
		if len(repl) > 0 {
			out = append(out, strings.Join(repl, "\n")+eol)
		}
	}
	var missing []string
	for _, t := range []string{"soft", "hard"} {
		if !seen[t] {
			missing = append(missing, limitsWant[t]+"\n")
		}
	}
	if len(missing) > 0 {
		at := len(out)
		for i := len(out) - 1; i >= 0; i-- {
			if strings.TrimSpace(out[i]) == "# End of file" {
				at = i
				break
			}
		}
		if at > 0 && !strings.HasSuffix(out[at-1], "\n") {
			out[at-1] += "\n"
		}
		out = append(out[:at], append(missing, out[at:]...)...)
	}
	return []byte(strings.Join(out, ""))
}
