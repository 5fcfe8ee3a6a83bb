package edit

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
)

// Operator strings: each writer either refuses the value (Validate and the
// editor both say so, no output) or writes it so that it reads back
// literally, the file still parses, only the target lines change, and a
// second run changes nothing.

var nasty = []string{
	"", "a", "'", `"`, `\`, `\'`, "''", "it's", "a\nb", "a\r\nb", "\u2028", "\u2029", "\x00", "\t",
	"$(rm -rf /)", "`id`", "${HOME}", "#", " # c", ": x", "- x", "{a}", "[1]", "&a *a", "!tag", "%", "@",
	"😀", "é", "\u202e", "\ufeff", "\xff", "postgres:16", "ag.example.edu", "/etc/ssl/x.pem", "30M",
	"a;b", "a b", strings.Repeat("x", 600), "\\u0041", "\\x41", "\\u{1F600}", "*/", "</script>",
}

func seed(f *testing.F) {
	for _, s := range nasty {
		f.Add(s)
	}
}

// checkOnly fails unless the line diff of old and new touches only allowed.
func checkOnly(t *testing.T, file string, old, new []byte, allowed []int) {
	t.Helper()
	for _, l := range changedLines(old, new) {
		if !slices.Contains(allowed, l) {
			t.Fatalf("%s: line %d changed, only %v may", file, l, allowed)
		}
	}
}

// refused checks that a value Validate rejects is also rejected, with no
// output, by the editor. It reports whether the value was refused.
func refused(t *testing.T, s Settings, edit func([]byte, Settings) ([]byte, []Change, error), src []byte) bool {
	t.Helper()
	if len(Validate(s)) == 0 {
		return false
	}
	if out, ch, err := edit(src, s); err == nil || out != nil || ch != nil {
		t.Fatalf("invalid %+v accepted", s)
	}
	return true
}

func again(t *testing.T, edit func([]byte, Settings) ([]byte, []Change, error), out []byte, s Settings) {
	t.Helper()
	o2, ch, err := edit(out, s)
	if err != nil || len(ch) != 0 || !bytes.Equal(o2, out) {
		t.Fatalf("second run: err %v, changes %v", err, ch)
	}
}

func FuzzSysadminContact(f *testing.F) {
	seed(f)
	src := readFile(f, testdata+"/fixtures/constants.ts")
	f.Fuzz(func(t *testing.T, v string) {
		s := Settings{SysadminContact: v}
		if v == "" || refused(t, s, ConstantsTS, src) {
			return
		}
		out, _, err := ConstantsTS(src, s)
		if err != nil {
			t.Fatal(err)
		}
		checkOnly(t, "constants.ts", src, out, []int{7})
		lines := strings.Split(string(out), "\n")
		lit, ok := strings.CutPrefix(lines[6], "export const SYSADMIN_CONTACT = ")
		lit, ok2 := strings.CutSuffix(lit, ";")
		if !ok || !ok2 {
			t.Fatalf("line 7: %q", lines[6])
		}
		got, err := evalJSString(lit)
		if err != nil || got != v {
			t.Fatalf("literal %s evaluates to %q (%v), want %q", lit, got, err, v)
		}
		again(t, ConstantsTS, out, s)
	})
}

func FuzzDomain(f *testing.F) {
	seed(f)
	in := releaseFiles(f, "3a61956")
	f.Fuzz(func(t *testing.T, v string) {
		s := Settings{Domain: v}
		if v == "" || refused(t, s, NginxProduction, in[NginxFile]) || refused(t, s, ProdEnv, in[ProdEnvFile]) {
			return
		}
		out, _, err := NginxProduction(in[NginxFile], s)
		if err != nil {
			t.Fatal(err)
		}
		checkOnly(t, NginxFile, in[NginxFile], out, []int{6, 7, 12})
		if nginxArgs(out, "server_name") != strings.Repeat(v+"|", 2) || nginxArgs(out, "return") != "301 https://"+v+"$request_uri|" {
			t.Fatalf("nginx does not read back %q:\n%s", v, out)
		}
		again(t, NginxProduction, out, s)
		env, _, err := ProdEnv(in[ProdEnvFile], s)
		if err != nil {
			t.Fatal(err)
		}
		checkOnly(t, ProdEnvFile, in[ProdEnvFile], env, []int{4, 6})
		if e := readEnv(env); e["ALLOWED_HOSTS"] != v || e["SITE_DOMAIN"] != v {
			t.Fatalf("env does not read back %q", v)
		}
		again(t, ProdEnv, env, s)
	})
}

func FuzzTLSPaths(f *testing.F) {
	for _, s := range nasty {
		f.Add(s, "/etc/ssl/private/k.pem")
		f.Add("/etc/ssl/certs/c.pem", s)
	}
	in := releaseFiles(f, "ba242ac")
	f.Fuzz(func(t *testing.T, cert, key string) {
		s := Settings{TLSCert: cert, TLSKey: key}
		if cert == "" || key == "" || refused(t, s, NginxProduction, in[NginxFile]) {
			return
		}
		out, _, err := NginxProduction(in[NginxFile], s)
		if err != nil {
			t.Fatal(err)
		}
		checkOnly(t, NginxFile, in[NginxFile], out, []int{23, 25})
		if nginxArgs(out, "ssl_certificate") != cert+"|" || nginxArgs(out, "ssl_certificate_key") != key+"|" {
			t.Fatalf("paths do not read back")
		}
		again(t, NginxProduction, out, s)
	})
}

func FuzzClientMaxBodySize(f *testing.F) {
	seed(f)
	in := releaseFiles(f, "ba242ac")
	f.Fuzz(func(t *testing.T, v string) {
		s := Settings{ClientMaxBodySize: v}
		if v == "" || refused(t, s, NginxProduction, in[NginxFile]) {
			return
		}
		out, _, err := NginxProduction(in[NginxFile], s)
		if err != nil {
			t.Fatal(err)
		}
		checkOnly(t, NginxFile, in[NginxFile], out, []int{4, 14})
		if nginxArgs(out, "client_max_body_size") != v+"|"+v+"|" {
			t.Fatalf("size does not read back")
		}
		again(t, NginxProduction, out, s)
	})
}

func FuzzDBPassword(f *testing.F) {
	seed(f)
	f.Add("Zq3-xT_9vLm2pRk7")
	in := releaseFiles(f, "ba242ac")
	f.Fuzz(func(t *testing.T, v string) {
		s := Settings{DBPassword: v}
		if v == "" || refused(t, s, Compose, in[ComposeFile]) || refused(t, s, ProdEnv, in[ProdEnvFile]) {
			return
		}
		out, _, err := Compose(in[ComposeFile], s)
		if err != nil {
			t.Fatal(err)
		}
		checkOnly(t, ComposeFile, in[ComposeFile], out, []int{85})
		if got := composeValue(t, out, "postgres", "environment", "POSTGRES_PASSWORD"); got != v {
			t.Fatalf("POSTGRES_PASSWORD reads back as %q, want %q", got, v)
		}
		again(t, Compose, out, s)
		env, _, err := ProdEnv(in[ProdEnvFile], s)
		if err != nil {
			t.Fatal(err)
		}
		checkOnly(t, ProdEnvFile, in[ProdEnvFile], env, []int{27})
		if readEnv(env)["AG_DB_PASSWORD"] != v {
			t.Fatal("AG_DB_PASSWORD does not read back")
		}
		again(t, ProdEnv, env, s)
	})
}

// FuzzYAMLQuote goes around Validate: any UTF-8 text written as the
// compose password reads back literally. (Validate restricts passwords to
// what env files can hold; the YAML writer itself needs no such limit.)
func FuzzYAMLQuote(f *testing.F) {
	seed(f)
	// A small file with the real postgres block: the real one makes each
	// run ~20x slower and adds nothing to what is tested here.
	src := []byte(`services:
  postgres:
    image: postgres:9.5
    environment:
      POSTGRES_PASSWORD: 'postgres' # UPDATE THIS
      OTHER: x

    deploy:
      replicas: 1
`)
	f.Fuzz(func(t *testing.T, v string) {
		if v == "" || !utf8.ValidString(v) {
			return
		}
		tx, err := composeText(src, Settings{DBPassword: v})
		if err != nil {
			t.Fatal(err)
		}
		out := tx.bytes()
		checkOnly(t, ComposeFile, src, out, []int{5})
		if got := composeValue(t, out, "postgres", "environment", "POSTGRES_PASSWORD"); got != v {
			t.Fatalf("%s reads back as %q, want %q", yamlQuote(v), got, v)
		}
	})
}

func FuzzPostgresImage(f *testing.F) {
	seed(f)
	f.Add("postgres:16-alpine")
	f.Add("docker.io/library/postgres:15@sha256:" + strings.Repeat("0", 64))
	in := releaseFiles(f, "3a61956") // the file with two image: keys
	f.Fuzz(func(t *testing.T, v string) {
		s := Settings{PostgresImage: v}
		if v == "" || refused(t, s, Compose, in[ComposeFile]) {
			return
		}
		out, _, err := Compose(in[ComposeFile], s)
		if err != nil {
			t.Fatal(err)
		}
		checkOnly(t, ComposeFile, in[ComposeFile], out, []int{82})
		if !bytes.Contains(out, []byte("\n    image: 127.0.0.1:5000/postgres\n")) || !bytes.Contains(out, []byte("\n    image: "+v+"\n")) {
			t.Fatal("image lines wrong")
		}
		again(t, Compose, out, s)
	})
}

// composeValue decodes the file with goccy's decoder (not the editors' AST
// helpers) and returns services.SVC.KEYS... as a string.
func composeValue(t *testing.T, src []byte, svc string, keys ...string) string {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(src, &m); err != nil {
		t.Fatalf("does not parse: %v", err)
	}
	v := m["services"].(map[string]any)[svc]
	for _, k := range keys {
		v = v.(map[string]any)[k]
	}
	return fmt.Sprint(v)
}

// nginxArgs returns the arguments of every line "NAME ARGS;" (comments
// cut), each followed by "|".
func nginxArgs(src []byte, name string) string {
	var b strings.Builder
	for _, l := range strings.Split(string(src), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == name {
			args := strings.Join(f[1:], " ")
			args, _, _ = strings.Cut(args, ";")
			b.WriteString(args + "|")
		}
	}
	return b.String()
}

func readEnv(src []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(src), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			m[k] = v
		}
	}
	return m
}

// evalJSString is the test's own evaluator of a JS string literal, written
// independently of tsUnquote: it accepts only what a JS engine accepts on
// one line and builds the UTF-16 code units like an engine does.
func evalJSString(lit string) (string, error) {
	r := []rune(lit)
	if len(r) < 2 || (r[0] != '\'' && r[0] != '"') || r[len(r)-1] != r[0] {
		return "", fmt.Errorf("not quoted")
	}
	q := r[0]
	var units []uint16
	simple := map[rune]rune{'n': '\n', 'r': '\r', 't': '\t', 'b': '\b', 'f': '\f', 'v': '\v', '\\': '\\', '\'': '\'', '"': '"'}
	for i := 1; i < len(r)-1; i++ {
		c := r[i]
		switch {
		case c == q || c == '\n' || c == '\r':
			return "", fmt.Errorf("raw %q inside the literal", c)
		case c != '\\':
			units = utf16.AppendRune(units, c)
			continue
		}
		i++
		if i >= len(r)-1 {
			return "", fmt.Errorf("dangling backslash")
		}
		e := r[i]
		if v, ok := simple[e]; ok {
			units = append(units, uint16(v))
			continue
		}
		hex := func(n int) (uint64, error) {
			if i+n >= len(r) {
				return 0, fmt.Errorf("short escape")
			}
			v, err := strconv.ParseUint(string(r[i+1:i+1+n]), 16, 32)
			i += n
			return v, err
		}
		switch e {
		case 'x':
			v, err := hex(2)
			if err != nil {
				return "", err
			}
			units = append(units, uint16(v))
		case 'u':
			if r[i+1] == '{' {
				end := slices.Index(r[i:], '}')
				if end < 0 {
					return "", fmt.Errorf("unclosed \\u{")
				}
				v, err := strconv.ParseUint(string(r[i+2:i+end]), 16, 32)
				if err != nil || v > 0x10FFFF {
					return "", fmt.Errorf("bad \\u{}")
				}
				units = utf16.AppendRune(units, rune(v))
				i += end
				continue
			}
			v, err := hex(4)
			if err != nil {
				return "", err
			}
			units = append(units, uint16(v))
		case '0':
			units = append(units, 0)
		default:
			return "", fmt.Errorf("escape \\%c not produced by a careful writer", e)
		}
	}
	if slices.ContainsFunc(units, func(u uint16) bool { return utf16.IsSurrogate(rune(u)) }) {
		// Pairs are fine; check they decode without replacement.
		if s := string(utf16.Decode(units)); strings.ContainsRune(s, utf8.RuneError) {
			return "", fmt.Errorf("lone surrogate")
		}
	}
	return string(utf16.Decode(units)), nil
}
