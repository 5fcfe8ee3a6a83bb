package edit

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := []Settings{
		{},
		full(),
		{GunicornWorkers: 1}, {GunicornWorkers: 64},
		{CeleryConcurrency: map[string]int{"grader": 1, "tiny_rerun_grader": 32, "celery_project_downloads": 2}},
		{ClientMaxBodySize: "30M"}, {ClientMaxBodySize: "1G"}, {ClientMaxBodySize: "512k"}, {ClientMaxBodySize: "1048576"},
		{MaxSubprocessTimeout: 1}, {MaxSubprocessTimeout: 3600},
		{SysadminContact: "Ünïcödé 😀 'quotes' \"dq\" \\ \n\r\t\u2028\u2029 $(reboot) `x` ${y}"},
		{Domain: "autograder.io"}, {Domain: "localhost"}, {Domain: "a-b.c-d.example"}, {Domain: "xn--bcher-kva.example"}, {Domain: strings.Repeat("a", 63) + ".io"},
		{TLSCert: "/etc/ssl/certs/autograder.io.cert", TLSKey: "/etc/ssl/private/autograder.io.key.pem"},
		{PostgresImage: "postgres:16"}, {PostgresImage: "postgres:16.4-alpine3.20"}, {PostgresImage: "docker.io/library/postgres:15"},
		{PostgresImage: "postgres@sha256:" + strings.Repeat("a", 64)},
		{DBPassword: "abcdEFGH1234_-"},
		{OAuthProvider: "google"}, {OAuthProvider: "azure"},
		{PublishMode: "ingress"}, {PublishMode: "host"},
	}
	for _, s := range ok {
		if errs := Validate(s); len(errs) != 0 {
			t.Errorf("Validate(%+v) = %v, want no error", s, errs)
		}
	}
	bad := []struct {
		s    Settings
		want string // the single error
	}{
		{Settings{GunicornWorkers: 65}, "GunicornWorkers: 65 is out of range: use 1 to 64 (0 leaves the file as it is)"},
		{Settings{GunicornWorkers: -1}, "GunicornWorkers: -1 is out of range: use 1 to 64 (0 leaves the file as it is)"},
		{Settings{CeleryConcurrency: map[string]int{"grader": 0}}, "CeleryConcurrency[grader]: 0 is out of range: use 1 to 32"},
		{Settings{CeleryConcurrency: map[string]int{"tiny_grader": 33}}, "CeleryConcurrency[tiny_grader]: 33 is out of range: use 1 to 32"},
		{Settings{CeleryConcurrency: map[string]int{"celerybeat": 2}}, `CeleryConcurrency: unknown service "celerybeat": use one of celery_small_tasks, celery_project_downloads, grader, fast_grader, deferred_grader, rerun_grader, tiny_grader, tiny_fast_grader, tiny_deferred_grader, tiny_rerun_grader`},
		{Settings{ClientMaxBodySize: "0"}, `ClientMaxBodySize: "0" is not an nginx size: use a positive number with an optional k, m or g suffix, like 30M, 1G or 512k`},
		{Settings{ClientMaxBodySize: "30MB"}, `ClientMaxBodySize: "30MB" is not an nginx size: use a positive number with an optional k, m or g suffix, like 30M, 1G or 512k`},
		{Settings{ClientMaxBodySize: "30M; deny all"}, `ClientMaxBodySize: "30M; deny all" is not an nginx size: use a positive number with an optional k, m or g suffix, like 30M, 1G or 512k`},
		{Settings{ClientMaxBodySize: "1.5G"}, `ClientMaxBodySize: "1.5G" is not an nginx size: use a positive number with an optional k, m or g suffix, like 30M, 1G or 512k`},
		{Settings{MaxSubprocessTimeout: 3601}, "MaxSubprocessTimeout: 3601 is out of range: use 1 to 3600 seconds (0 leaves the files as they are)"},
		{Settings{MaxSubprocessTimeout: -5}, "MaxSubprocessTimeout: -5 is out of range: use 1 to 3600 seconds (0 leaves the files as they are)"},
		{Settings{SysadminContact: "\xff"}, "SysadminContact: not valid UTF-8 text"},
		{Settings{SysadminContact: strings.Repeat("é", 501)}, "SysadminContact: 501 characters is too long: use at most 500"},
		{Settings{Domain: "-a.com"}, `Domain: "-a.com" is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens`},
		{Settings{Domain: "a..com"}, `Domain: "a..com" is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens`},
		{Settings{Domain: "ag.example.edu."}, `Domain: "ag.example.edu." is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens`},
		{Settings{Domain: "https://ag.example.edu"}, `Domain: "https://ag.example.edu" is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens`},
		{Settings{Domain: "ag.example.edu;"}, `Domain: "ag.example.edu;" is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens`},
		{Settings{Domain: "a_b.com"}, `Domain: "a_b.com" is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens`},
		{Settings{Domain: "bücher.de"}, `Domain: "bücher.de" is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens`},
		{Settings{Domain: strings.Repeat("a", 64) + ".io"}, `Domain: "` + strings.Repeat("a", 64) + `.io" is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens`},
		{Settings{Domain: strings.Repeat("abcdefg.", 32) + "io"}, `Domain: "` + strings.Repeat("abcdefg.", 32) + `io" is longer than 253 characters`},
		{Settings{Domain: "10.0.0.1"}, `Domain: "10.0.0.1" is not a valid host name: the last part must not be all digits (IP addresses are not accepted)`},
		{Settings{TLSCert: "certs/x.pem"}, `TLSCert: "certs/x.pem" is not usable: use an absolute file path of letters, digits and . _ / + @ = , : ~ - (no spaces, quotes, $ or ;)`},
		{Settings{TLSKey: "/etc/ssl/my key.pem"}, `TLSKey: "/etc/ssl/my key.pem" is not usable: use an absolute file path of letters, digits and . _ / + @ = , : ~ - (no spaces, quotes, $ or ;)`},
		{Settings{TLSKey: "/etc/ssl/$host.pem"}, `TLSKey: "/etc/ssl/$host.pem" is not usable: use an absolute file path of letters, digits and . _ / + @ = , : ~ - (no spaces, quotes, $ or ;)`},
		{Settings{TLSKey: "/etc/ssl/"}, `TLSKey: "/etc/ssl/" is not usable: use an absolute file path of letters, digits and . _ / + @ = , : ~ - (no spaces, quotes, $ or ;)`},
		{Settings{PostgresImage: "postgres"}, `PostgresImage: "postgres" is not an official postgres image with a tag: use e.g. postgres:16 or postgres:16-alpine (docker.io/library/ prefix and @sha256: digest allowed)`},
		{Settings{PostgresImage: "postgres:16 # x"}, `PostgresImage: "postgres:16 # x" is not an official postgres image with a tag: use e.g. postgres:16 or postgres:16-alpine (docker.io/library/ prefix and @sha256: digest allowed)`},
		{Settings{PostgresImage: "Postgres:16"}, `PostgresImage: "Postgres:16" is not an official postgres image with a tag: use e.g. postgres:16 or postgres:16-alpine (docker.io/library/ prefix and @sha256: digest allowed)`},
		{Settings{PostgresImage: "127.0.0.1:5000/postgres:16"}, `PostgresImage: "127.0.0.1:5000/postgres:16" is not an official postgres image with a tag: use e.g. postgres:16 or postgres:16-alpine (docker.io/library/ prefix and @sha256: digest allowed)`},
		{Settings{PostgresImage: "postgres:-16"}, `PostgresImage: "postgres:-16" is not an official postgres image with a tag: use e.g. postgres:16 or postgres:16-alpine (docker.io/library/ prefix and @sha256: digest allowed)`},
		{Settings{DBPassword: "short"}, "DBPassword: use 8 to 128 characters from A-Z a-z 0-9 _ - (the generator's alphabet; other characters cannot be written safely to _prod.env)"},
		{Settings{DBPassword: "pass word$(id)"}, "DBPassword: use 8 to 128 characters from A-Z a-z 0-9 _ - (the generator's alphabet; other characters cannot be written safely to _prod.env)"},
		{Settings{OAuthProvider: "github"}, `OAuthProvider: "github" is not supported: use google or azure`},
		{Settings{PublishMode: "Host"}, `PublishMode: "Host" is not a publish mode: use ingress or host`},
	}
	for _, c := range bad {
		errs := Validate(c.s)
		if len(errs) != 1 || errs[0].Error() != c.want {
			t.Errorf("Validate(%+v):\n got %v\nwant %s", c.s, errs, c.want)
		}
		// The password itself never appears in an error.
		if c.s.DBPassword != "" && strings.Contains(errs[0].Error(), c.s.DBPassword) {
			t.Errorf("error shows the password: %v", errs[0])
		}
	}
	// Every bad value is reported, not just the first.
	all := Settings{GunicornWorkers: 0 - 1, ClientMaxBodySize: "x", MaxSubprocessTimeout: 9999, Domain: "-", OAuthProvider: "x"}
	if n := len(Validate(all)); n != 5 {
		t.Errorf("Validate reported %d errors, want 5", n)
	}
}
