package edit

import (
	"fmt"
	"regexp"
	"strconv"
)

// ConstantsPy sets MAX_SUBPROCESS_TIMEOUT in
// autograder-server/autograder/core/constants.py.
func ConstantsPy(src []byte, s Settings) ([]byte, []Change, error) {
	return run(constantsPyText, src, s)
}

// ConstantsTS sets MAX_COMMAND_TIMEOUT (kept equal to the server's
// MAX_SUBPROCESS_TIMEOUT) and SYSADMIN_CONTACT in
// ag-website-vue/src/constants.ts.
func ConstantsTS(src []byte, s Settings) ([]byte, []Change, error) {
	return run(constantsTSText, src, s)
}

var (
	// A module-level assignment at column 0, optionally annotated: NAME[: int] = 90  # comment
	pyTimeoutRe = regexp.MustCompile(`^(MAX_SUBPROCESS_TIMEOUT\s*(?::\s*int\s*)?=\s*)(\d+)(\s*(?:#.*)?)$`)
	// export const NAME[: number] = 90; // comment
	tsTimeoutRe = regexp.MustCompile(`^(export\s+const\s+MAX_COMMAND_TIMEOUT\s*(?::\s*number\s*)?=\s*)(\d+)(\s*;?\s*(?://.*)?)$`)
	// export const NAME[: string] = 'text' or "text"; // comment
	tsContactRe = regexp.MustCompile(`^(export\s+const\s+SYSADMIN_CONTACT\s*(?::\s*string\s*)?=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(\s*;?\s*(?://.*)?)$`)
)

// findOne returns the only line matching re, or the editor's error.
func findOne(t *text, re *regexp.Regexp, what, lookedFor string) (int, []string, error) {
	ln, n := 0, 0
	for i, l := range t.lines {
		if re.MatchString(l.s) {
			ln, n = i+1, n+1
		}
	}
	if n != 1 {
		return 0, nil, t.missing(what, fmt.Sprintf("%s, exactly once; found %d", lookedFor, n))
	}
	return ln, re.FindStringSubmatch(t.lines[ln-1].s), nil
}

func constantsPyText(src []byte, s Settings) (*text, error) {
	t := splitText(ConstantsPyFile, src)
	if s.MaxSubprocessTimeout == 0 {
		return t, nil
	}
	ln, m, err := findOne(t, pyTimeoutRe, `"MAX_SUBPROCESS_TIMEOUT ="`, "a line MAX_SUBPROCESS_TIMEOUT = N at the start of a line")
	if err != nil {
		return nil, err
	}
	t.set(ln, m[1]+strconv.Itoa(s.MaxSubprocessTimeout)+m[3], "max subprocess timeout")
	// Validate: the line still reads back (the file is otherwise untouched).
	if _, m, err := findOne(splitText(t.file, t.bytes()), pyTimeoutRe, "", ""); err != nil || m[2] != strconv.Itoa(s.MaxSubprocessTimeout) {
		return nil, fmt.Errorf("%s: MAX_SUBPROCESS_TIMEOUT does not read back (bug in aginstall)", t.file)
	}
	return t, nil
}

func constantsTSText(src []byte, s Settings) (*text, error) {
	t := splitText(ConstantsTSFile, src)
	if s.MaxSubprocessTimeout != 0 {
		ln, m, err := findOne(t, tsTimeoutRe, `"export const MAX_COMMAND_TIMEOUT ="`, "a line export const MAX_COMMAND_TIMEOUT = N;")
		if err != nil {
			return nil, err
		}
		t.set(ln, m[1]+strconv.Itoa(s.MaxSubprocessTimeout)+m[3], "max command timeout")
	}
	if s.SysadminContact != "" {
		ln, m, err := findOne(t, tsContactRe, `"export const SYSADMIN_CONTACT ="`, "a line export const SYSADMIN_CONTACT = 'text';")
		if err != nil {
			return nil, err
		}
		// Compare values, not bytes: an equal value in another quoting
		// style is left alone (idempotent, no needless change).
		if old, err := tsUnquote(m[2]); err != nil || old != s.SysadminContact {
			t.set(ln, m[1]+tsQuote(s.SysadminContact)+m[3], "sysadmin contact")
		}
	}
	// Validate: each edited line reads back.
	out := splitText(t.file, t.bytes())
	if s.MaxSubprocessTimeout != 0 {
		if _, m, err := findOne(out, tsTimeoutRe, "", ""); err != nil || m[2] != strconv.Itoa(s.MaxSubprocessTimeout) {
			return nil, fmt.Errorf("%s: MAX_COMMAND_TIMEOUT does not read back (bug in aginstall)", t.file)
		}
	}
	if s.SysadminContact != "" {
		_, m, err := findOne(out, tsContactRe, "", "")
		if err != nil {
			return nil, fmt.Errorf("%s: SYSADMIN_CONTACT does not read back (bug in aginstall): %v", t.file, err)
		}
		if v, err := tsUnquote(m[2]); err != nil || v != s.SysadminContact {
			return nil, fmt.Errorf("%s: SYSADMIN_CONTACT does not read back (bug in aginstall)", t.file)
		}
	}
	return t, nil
}
