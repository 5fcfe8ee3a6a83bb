package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// ReadFiles reads several files in one session: with sudo and a password,
// each session is a login to sudo (a PAM password check and a log line on
// the host), so a check reading five files pays for one instead of five.
// Missing files are absent from the map; any other failure fails the lot.
func (c *Conn) ReadFiles(ctx context.Context, paths []string, sudo bool) (map[string][]byte, error) {
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	b := "aginstall-files-" + hex.EncodeToString(tok)
	res, err := c.Run(ctx, Command{Line: readFilesScript(b, paths), Sudo: sudo}, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", strings.Join(paths, ", "), err)
	}
	files, err := parseReadFiles(res.Stdout, b, paths)
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", c.label, strings.Join(paths, ", "), err)
	}
	return files, nil
}

// readFilesScript prints, for file i, either "B i missing" or "B i file",
// its bytes, and "\nB i end". B is random per call, so no file's content
// (written before the call) can forge a boundary. A file that is there but
// unreadable stops the script with cat's error.
func readFilesScript(b string, paths []string) string {
	var s strings.Builder
	for i, p := range paths {
		q, n := Quote(p), strconv.Itoa(i)
		fmt.Fprintf(&s, "if [ -e %s ] || [ -L %s ]; then echo '%s %s file' && cat -- %s && printf '\\n%s %s end\\n' || exit 1; else echo '%s %s missing'; fi; ",
			q, q, b, n, q, b, n, b, n)
	}
	s.WriteString("exit 0")
	return s.String()
}

// parseReadFiles reads readFilesScript's output strictly: every file in
// order, nothing before, between or after.
func parseReadFiles(out []byte, b string, paths []string) (map[string][]byte, error) {
	files := map[string][]byte{}
	for i, p := range paths {
		head := b + " " + strconv.Itoa(i) + " "
		if rest, ok := bytes.CutPrefix(out, []byte(head+"missing\n")); ok {
			out = rest
			continue
		}
		rest, ok := bytes.CutPrefix(out, []byte(head+"file\n"))
		if !ok {
			return nil, fmt.Errorf("unexpected output where %s should begin", p)
		}
		content, after, ok := bytes.Cut(rest, []byte("\n"+head+"end\n"))
		if !ok {
			return nil, fmt.Errorf("the output of %s has no end", p)
		}
		files[p], out = content, after
	}
	if len(out) > 0 {
		return nil, fmt.Errorf("%d unexpected bytes after the last file", len(out))
	}
	return files, nil
}
