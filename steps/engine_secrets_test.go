package steps

import "testing"

// Every secret is registered whatever its length; a short one is redacted
// where it stands as a word, a long one everywhere.
func TestSecretsShortValues(t *testing.T) {
	s := &Secrets{}
	s.Add("pw1")
	s.Add("x")
	s.Add("")
	s.Add("long-secret")
	cases := map[string]string{
		"sh: 1: pw1: not found":           "sh: 1: [redacted]: not found",
		"password=pw1\n":                  "password=[redacted]\n",
		"pw1":                             "[redacted]",
		"pw12 apw1 pw1pw1":                "pw12 apw1 pw1pw1",
		"a x in text, box":                "a [redacted] in text, box",
		"tok=long-secretlong-secret-tail": "tok=[redacted][redacted]-tail",
		"nothing here":                    "nothing here",
	}
	for in, want := range cases {
		if got := s.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
