package edit

import (
	"strings"
	"testing"
)

const newer = "; the file's layout is newer than this version of aginstall knows"

// A target that is not there is an error naming the file and what was
// looked for, with no output.
func TestMissingTarget(t *testing.T) {
	in := releaseFiles(t, "3a61956")
	repl := func(f, old, new string) []byte {
		s := string(in[f])
		if !strings.Contains(s, old) {
			t.Fatalf("%s has no %q", f, old)
		}
		return []byte(strings.Replace(s, old, new, 1))
	}
	cases := []struct {
		name string
		edit func([]byte, Settings) ([]byte, []Change, error)
		src  []byte
		s    Settings
		want string
	}{
		{"no --workers", Compose, repl(ComposeFile, "--workers=4 ", ""), Settings{GunicornWorkers: 8},
			`docker-compose.yml: no "gunicorn --workers=" in the command of service "django" (looked for: a one-line "command: gunicorn ... --workers=N" in services.django; --workers N and -w N also work)` + newer},
		{"command as a list", Compose, repl(ComposeFile, "command: gunicorn --workers=4 autograder.wsgi:application", "command:\n      - gunicorn\n      - --workers=4\n      - autograder.wsgi:application\n    #"), Settings{GunicornWorkers: 8},
			`docker-compose.yml: no "gunicorn --workers=" in the command of service "django" (looked for: a one-line "command: gunicorn ... --workers=N" in services.django; --workers N and -w N also work; found the command of service "django" is not a one-line string)` + newer},
		{"no -c", Compose, repl(ComposeFile, "--loglevel=info -c 2\n\n    deploy:\n      mode: global\n      placement:\n        constraints:\n          - node.labels.grader", "--loglevel=info\n\n    deploy:\n      mode: global\n      placement:\n        constraints:\n          - node.labels.grader"), Settings{CeleryConcurrency: map[string]int{"grader": 4}},
			`docker-compose.yml: no "-c N" in the command of service "grader" (looked for: a one-line "command: ... celery ... -c N" in services.grader; --concurrency=N also works)` + newer},
		{"no postgres image", Compose, repl(ComposeFile, "image: postgres:9.5", "image: my-registry/pg:9.5"), Settings{PostgresImage: "postgres:16"},
			`docker-compose.yml: no "image: postgres:..." in service "postgres" (looked for: a one-line image: key of service "postgres" naming the official image (postgres:TAG); other image: keys such as 127.0.0.1:5000/postgres are left alone)` + newer},
		{"password in a list", Compose, repl(ComposeFile, "POSTGRES_PASSWORD: 'postgres' # UPDATE THIS", "- POSTGRES_PASSWORD=postgres"), Settings{DBPassword: "abcdefgh12"},
			`docker-compose.yml: no "POSTGRES_PASSWORD:" in the environment of service "postgres" (looked for: services.postgres.environment as a mapping with a one-line POSTGRES_PASSWORD: value)` + newer},
		{"second body size gone", NginxProduction, repl(NginxFile, "\n    client_max_body_size 30M;\n    # Disable", "\n    # Disable"), Settings{ClientMaxBodySize: "1G"},
			`nginx/production/conf.d/default.conf: no single "client_max_body_size SIZE;" in server block 2 (looked for: one "client_max_body_size SIZE;" line directly inside each of the 2 server blocks; found 0 in block 2)` + newer},
		{"redirect uses $host", NginxProduction, repl(NginxFile, "https://autograder.io$request_uri", "https://$host$request_uri"), Settings{Domain: "ag.example.edu"},
			`nginx/production/conf.d/default.conf: no single "return 301 https://HOST$request_uri;" (looked for: exactly one "return 301 https://HOST$request_uri;" line directly inside a server block; found 0)` + newer},
		{"nginx unbalanced", NginxProduction, repl(NginxFile, "        root /;\n    }", "        root /;\n    }}"), Settings{Domain: "ag.example.edu"},
			`nginx/production/conf.d/default.conf:55: unbalanced }`},
		{"nginx unclosed quote", NginxProduction, repl(NginxFile, `"max-age=17280000";`, `"max-age=17280000;`), Settings{Domain: "ag.example.edu"},
			`nginx/production/conf.d/default.conf:21: unclosed quote`},
		{"env garbage line", ProdEnv, repl(ProdEnvFile, "AG_DB_PORT=5432", "AG DB PORT 5432"), Settings{OAuthProvider: "google"},
			`autograder-server/_prod.env:29: not a KEY=VALUE line: "AG DB PORT 5432"`},
		{"SITE_DOMAIN commented", ProdEnv, repl(ProdEnvFile, "SITE_DOMAIN=", "# SITE_DOMAIN="), Settings{Domain: "ag.example.edu"},
			`autograder-server/_prod.env: no single "SITE_DOMAIN=" line (looked for: exactly one uncommented SITE_DOMAIN=VALUE line; found 0)` + newer},
		{"py timeout renamed", ConstantsPy, []byte(strings.Replace(string(in[ConstantsPyFile]), "MAX_SUBPROCESS_TIMEOUT = 90", "MAX_TIMEOUT = 90", 1)), Settings{MaxSubprocessTimeout: 60},
			`autograder-server/autograder/core/constants.py: no "MAX_SUBPROCESS_TIMEOUT =" (looked for: a line MAX_SUBPROCESS_TIMEOUT = N at the start of a line, exactly once; found 0)` + newer},
		{"ts contact is computed", ConstantsTS, []byte(strings.Replace(string(in[ConstantsTSFile]), "'your instructor or system administrator'", "process.env.CONTACT", 1)), Settings{SysadminContact: "x"},
			`ag-website-vue/src/constants.ts: no "export const SYSADMIN_CONTACT =" (looked for: a line export const SYSADMIN_CONTACT = 'text';, exactly once; found 0)` + newer},
		{"tiny commented, not uncommented", Compose, readFile(t, testdata+"/fixtures/docker-compose-tiny-commented-3a61956.yml"), Settings{CeleryConcurrency: map[string]int{"tiny_grader": 1}},
			`docker-compose.yml: service "tiny_grader" is commented out: set UncommentTiny to enable it before setting its -c`},
		{"ports range", Compose, repl(ComposeFile, `"5001:5001"`, `"5001-5002:5001-5002"`), Settings{PublishMode: "host"},
			`docker-compose.yml:299: port "5001-5002:5001-5002" of service "sandboximageregistry" cannot be written in host mode: only "PUBLISHED:TARGET[/PROTOCOL]" with single ports is supported; rewrite it by hand`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, ch, err := c.edit(c.src, c.s)
			if err == nil || err.Error() != c.want {
				t.Errorf("error:\n got %v\nwant %s", err, c.want)
			}
			if out != nil || ch != nil {
				t.Errorf("output on error: %d bytes, %d changes", len(out), len(ch))
			}
		})
	}
}

// One file that cannot be edited means no file is edited.
func TestApplyAllIsAllOrNothing(t *testing.T) {
	in := releaseFiles(t, "ba242ac")
	in[ConstantsTSFile] = []byte("export const OTHER = 1;\n")
	out, ch, err := ApplyAll(in, full())
	if err == nil || !strings.Contains(err.Error(), ConstantsTSFile) {
		t.Fatalf("err = %v", err)
	}
	if out != nil || ch != nil {
		t.Error("ApplyAll returned files or changes with an error")
	}
	delete(in, ConstantsTSFile)
	if _, _, err := ApplyAll(in, full()); err == nil || !strings.Contains(err.Error(), ConstantsTSFile+": file not given") {
		t.Errorf("missing file: err = %v", err)
	}
	// Bad settings are refused before any file is looked at.
	if _, _, err := ApplyAll(nil, Settings{GunicornWorkers: 65}); err == nil || !strings.Contains(err.Error(), "GunicornWorkers") {
		t.Errorf("bad settings: err = %v", err)
	}
}
