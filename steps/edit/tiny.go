package edit

import (
	"regexp"
	"strings"
)

// uncommentTiny re-enables tiny_* services that were commented out the way
// upstream comments a service (docker-compose-single.yml's fast_grader):
//
//	# tiny_grader:
//	#   <<: *base-grader
//	#   command: ...
//
// i.e. "# " inserted after the services' indentation on every line of the
// block. Removing it again restores the original lines; blank lines inside
// the block stay blank, and a bare "#" line becomes blank. Active services
// are left alone. The line count never changes.
func uncommentTiny(t *text) {
	ind, start, end := servicesBlock(t)
	if start < 0 {
		return // no services block: the parse that follows reports it
	}
	header := regexp.MustCompile(`^` + ind + `# (tiny_[A-Za-z0-9_]+):[ \t]*$`)
	body := ind + "#  " // "# " plus the one extra space of the body's indentation
	for i := start; i < end; i++ {
		m := header.FindStringSubmatch(t.lines[i].s)
		if m == nil {
			continue
		}
		t.set(i+1, ind+m[1]+":", "uncomment "+m[1])
		for j := i + 1; j < end; j++ {
			l := t.lines[j].s
			switch {
			case strings.HasPrefix(l, body):
				t.set(j+1, ind+l[len(ind)+2:], "uncomment "+m[1])
			case l == ind+"#":
				t.set(j+1, "", "uncomment "+m[1])
			case strings.TrimSpace(l) == "" && nextIsBody(t, j+1, end, body, ind):
				// blank line inside the block
			default:
				i = j - 1
				j = end
			}
		}
	}
}

func nextIsBody(t *text, from, end int, body, ind string) bool {
	for k := from; k < end; k++ {
		l := t.lines[k].s
		if strings.TrimSpace(l) == "" {
			continue
		}
		return strings.HasPrefix(l, body) || l == ind+"#"
	}
	return false
}

// servicesBlock finds the lines (0-based, [start,end)) under a top-level
// "services:" key and the indentation of its entries.
func servicesBlock(t *text) (ind string, start, end int) {
	start, end = -1, len(t.lines)
	top := regexp.MustCompile(`^[^\s#]`)
	for i, l := range t.lines {
		if start < 0 {
			if strings.HasPrefix(l.s, "services:") {
				start = i + 1
			}
			continue
		}
		if top.MatchString(l.s) {
			end = i
			break
		}
		if ind == "" && strings.TrimSpace(l.s) != "" && !strings.HasPrefix(strings.TrimSpace(l.s), "#") {
			ind = l.s[:len(l.s)-len(strings.TrimLeft(l.s, " "))]
		}
	}
	if start < 0 || ind == "" {
		return "", -1, -1
	}
	return ind, start, end
}

// commentedService says whether service name is present only as a comment.
func commentedService(t *text, name string) bool {
	ind, start, end := servicesBlock(t)
	for i := start; i >= 0 && i < end; i++ {
		if strings.TrimRight(t.lines[i].s, " \t") == ind+"# "+name+":" {
			return true
		}
	}
	return false
}
