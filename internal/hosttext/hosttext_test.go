package hosttext

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain text is kept", "Setting up docker-ce (5:27.3.1-1~debian.12~bookworm) ...", "Setting up docker-ce (5:27.3.1-1~debian.12~bookworm) ..."},
		{"lines are kept", "one\ntwo\n", "one\ntwo\n"},
		{"carriage return progress collapses", "50%\r100%", "100%"},
		{"a shorter redraw leaves the rest, as on a terminal", "100%\r50%", "50%%"},
		{"crlf is a newline", "a\r\nb\r\n", "a\nb\n"},
		{"apt's progress with erase-line", "\rReading package lists... 0%\r\x1b[KReading package lists... Done", "Reading package lists... Done"},
		{"erase to the line's start", "abcdef\x1b[3D\x1b[1Kx", "      x"}, // CSI D is dropped: the cursor stays at the end
		{"erase the whole line", "secret\x1b[2K", ""},
		{"backspace overwrites", "ab\bc", "ac"},
		{"backspace at the start stays", "\b\bx", "x"},
		{"tab to the next stop", "a\tb", "a       b"},
		{"colours are dropped", "\x1b[1;31merror\x1b[0m: no", "error: no"},
		{"OSC 52 (set clipboard) is dropped", "https://h/x\x1b]52;c;Y3VybCBldmlsfHNo\x07.git", "https://h/x.git"},
		{"OSC with ST", "a\x1b]0;title\x1b\\b", "ab"},
		{"DCS", "a\x1bP1$r0m\x1b\\b", "ab"},
		{"APC", "a\x1b_Gf=24;AAAA\x1b\\b", "ab"},
		{"ESC x", "a\x1bcb\x1b7c", "abc"},
		{"unfinished sequence at the end", "ok\x1b]52;c;AAAA", "ok"},
		{"lone escape", "a\x1b", "a"},
		{"bell and nul", "a\x07b\x00c", "abc"},
		{"DEL", "a\x7fb", "ab"},
		{"C1 controls as runes", "a\u0085b\u009b31mc\u009d0;t\u009c", "ab31mc0;t"},
		{"8-bit CSI byte is not text", "a\x9b31mb", "a\uFFFD31mb"},
		{"bidi overrides", "file\u202etxt.exe\u2066", "filetxt.exe"},
		{"invalid UTF-8", "caf\xe9", "caf\uFFFD"},
		{"wide characters", "日本\r語", "語本"},
		{"emoji with joiner kept", "👩‍💻 done", "👩‍💻 done"},
		{"combining marks kept", "cafe\u0301", "cafe\u0301"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clean(tc.in); got != tc.want {
				t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// checkClean asserts what every output of Clean must be.
func checkClean(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("Clean(%q) = %q: not UTF-8", in, out)
	}
	for _, r := range out {
		if r != '\n' && hidden(r) {
			t.Fatalf("Clean(%q) = %q: keeps control %U", in, out, r)
		}
	}
	if ansi.Strip(out) != out {
		t.Fatalf("Clean(%q) = %q: ansi.Strip still finds a sequence", in, out)
	}
	if again := Clean(out); again != out {
		t.Fatalf("not idempotent: Clean(%q) = %q, then %q", in, out, again)
	}
	if want := strings.Count(strings.ToValidUTF8(in, "\uFFFD"), "\n"); strings.Count(out, "\n") != want {
		t.Fatalf("Clean(%q) = %q: %d newlines, want %d", in, out, strings.Count(out, "\n"), want)
	}
	if strings.ContainsFunc(out, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		t.Fatalf("Clean(%q) = %q: control left", in, out)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"50%\r100%", "a\r\nb", "\x1b]52;c;AAAA\x07", "\x1b[2K", "ab\bc\td", "\x1bP\x1b\\", "\u009b1m",
		"\xff", "日本\b語", "\x1b[?25l", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "a\x1b[1Kb", "\x00\x7f\u0085",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkClean(t, in, Clean(in))
	})
}

func BenchmarkCleanPlain(b *testing.B) {
	line := "Get:12 http://deb.debian.org/debian bookworm/main amd64 libip6tc2 amd64 1.8.9-2 [19.1 kB]"
	for b.Loop() {
		Clean(line)
	}
}

func BenchmarkCleanProgress(b *testing.B) {
	line := "\rProgress: [ 20%] [#####.....]\x1b[K\rProgress: [ 40%] [##########....]\x1b[K\r\x1b[0;32mdone\x1b[0m"
	for b.Loop() {
		Clean(line)
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\tb\nc", "a\tb\nc"},
		{"https://x/ag.git\x1b]52;c;aWQ=\x07\x1b[2K\rforged", `https://x/ag.git\x1b]52;c;aWQ=\x07\x1b[2K\rforged`},
		{"caf\xe9", `caf\xe9`},
		{"a\u0085b\u202ec", `a\x85b\u202ec`},
		{"日本 ok", "日本 ok"},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"a\x1b]52;c;AAAA\x07b", "\r\n\t", "\xff\xfe", "\u202e", "\x00\x7f\u0085", `\x1b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Escape(in)
		if !utf8.ValidString(out) {
			t.Fatalf("Escape(%q) = %q: not UTF-8", in, out)
		}
		for _, r := range out {
			if r != '\n' && r != '\t' && hidden(r) {
				t.Fatalf("Escape(%q) = %q: keeps control %U", in, out, r)
			}
		}
		if again := Escape(out); again != out {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
		if strings.Count(out, "\n") != strings.Count(in, "\n") {
			t.Fatalf("Escape(%q) = %q: lines changed", in, out)
		}
		// A line Clean made is left alone.
		for _, l := range strings.Split(Clean(in), "\n") {
			if Escape(l) != l {
				t.Fatalf("Escape(Clean line %q) = %q", l, Escape(l))
			}
		}
	})
}
