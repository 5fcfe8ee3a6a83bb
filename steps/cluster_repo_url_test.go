package steps

import (
	"strings"
	"testing"
)

// source.repo is parsed with net/url: a newline, a space or credentials are
// refused with file:line, and the error never repeats a password.
func TestRepoURLRefusals(t *testing.T) {
	good := string(readGood(t))
	const from = "repo: https://github.com/eecs-autograder/autograder-full-stack.git"
	cases := []struct{ name, to, want string }{
		{"newline forges a plan line", `repo: "https://github.com/x/y.git\nfetch evil"`, `aginstall.yaml:17: source.repo: "https://github.com/x/y.git\nfetch evil" holds a space or a control character`},
		{"space", `repo: "https://github.com/x/y.git --upload-pack=x"`, `aginstall.yaml:17: source.repo: "https://github.com/x/y.git --upload-pack=x" holds a space`},
		{"token in https", "repo: https://ghp_SECRETTOKEN@github.com/x/y.git", `aginstall.yaml:17: source.repo: "https://[redacted]@github.com/x/y.git" carries credentials`},
		{"password in https", "repo: https://user:SECRETPW@github.com/x/y.git", `"https://[redacted]@github.com/x/y.git" carries credentials`},
		{"password in ssh", "repo: ssh://git:SECRETPW@github.com/x/y.git", `carries credentials`},
		{"http without opt-in", "repo: http://10.213.0.1:8080/git/a.git", `"http://10.213.0.1:8080/git/a.git" is plain http`},
		{"ftp", "repo: ftp://10.213.0.1/a.git", `is not a git URL`},
		{"ext transport", `repo: "ext::sh -c touch% /tmp/pwned"`, `holds a space`},
		{"option as scp path", "repo: git@github.com:-oProxyCommand=x", `is not a git URL`},
		{"no host", "repo: https:///a.git", `has no host`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCluster("aginstall.yaml", []byte(strings.Replace(good, from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error repeats the secret: %v", err)
			}
		})
	}
	for _, ok := range []string{
		"repo: git@github.com:eecs-autograder/autograder-full-stack.git",
		"repo: ssh://git@github.com/eecs-autograder/autograder-full-stack.git",
		"repo: https://git.example.edu:8443/mirror/ag.git",
		"repo: http://10.213.0.1:8080/git/a.git, allow_http: true",
	} {
		if _, err := ParseCluster("aginstall.yaml", []byte(strings.Replace(good, from, ok, 1))); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	if got := redactRepoURL("https://tok@host/a.git"); got != "https://[redacted]@host/a.git" {
		t.Errorf("redacted %q", got)
	}
	if got := redactRepoURL("ssh://git@host/a.git"); got != "ssh://git@host/a.git" {
		t.Errorf("ssh user hidden: %q", got)
	}
}
