package edit

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
)

// The fixture comments out the four tiny services the way upstream
// comments fast_grader in docker-compose-single.yml; uncommenting gives
// back the real file, byte for byte.
func TestUncommentTiny(t *testing.T) {
	for _, r := range releases {
		real := releaseFiles(t, r)[ComposeFile]
		commented := readFile(t, testdata+"/fixtures/docker-compose-tiny-commented-"+r+".yml")
		out, ch, err := Compose(commented, Settings{UncommentTiny: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, real) {
			t.Errorf("%s: uncommented file differs from the real one:\n%s", r, UnifiedDiff(ComposeFile, real, out))
		}
		if got, want := len(ch), 4*9; got != want { // 9 non-blank lines per service
			t.Errorf("%s: %d changes, want %d", r, got, want)
		}
		// Again: nothing to do. And an active file is left alone.
		if again, ch, err := Compose(out, Settings{UncommentTiny: true}); err != nil || len(ch) != 0 || !bytes.Equal(again, out) {
			t.Errorf("%s: second uncomment: err %v, changes %v", r, err, ch)
		}
		// Uncomment and set a tiny -c in one call.
		out, _, err = Compose(commented, Settings{UncommentTiny: true, CeleryConcurrency: map[string]int{"tiny_grader": 3}})
		if err != nil || !bytes.Contains(out, []byte("-n submission_grader@%h --loglevel=info -c 3\n")) {
			t.Errorf("%s: uncomment + tiny -c: err %v", r, err)
		}
	}
}

func TestComposeConstraints(t *testing.T) {
	want := map[string][]string{
		"nginx": {"webserver"}, "website": {"webserver"}, "django": {"django_app"}, "postgres": {"database"},
		"redis": {"cache"}, "rabbitmq": {"rabbitmq_broker"}, "celery_small_tasks": {"small_tasks"},
		"celery_project_downloads": {"small_tasks"}, "celerybeat": {"small_tasks"},
		"sandboximageregistry": {"custom_image_registry"},
	}
	for _, g := range []string{"grader", "tiny_grader", "fast_grader", "tiny_fast_grader", "deferred_grader",
		"tiny_deferred_grader", "rerun_grader", "tiny_rerun_grader", "image_builder"} {
		want[g] = []string{g}
	}
	for _, r := range releases {
		got, err := ComposeConstraints(releaseFiles(t, r)[ComposeFile])
		if err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s: got %v", r, got)
		}
	}
	// deploy can come from a merged anchor; the service's own deploy wins.
	src := `x-base: &base
  deploy:
    placement:
      constraints:
        - node.labels.grader == true
        - node.role == worker
services:
  a:
    <<: *base
  b:
    <<: *base
    deploy:
      placement:
        constraints: ["node.labels.other == true", "node.labels.x != true"]
  c:
    image: x
`
	got, err := ComposeConstraints([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if w := map[string][]string{"a": {"grader"}, "b": {"other"}, "c": {}}; !maps.EqualFunc(got, w, slices.Equal) {
		t.Errorf("merges: got %v", got)
	}
}

func TestPortsHostMode(t *testing.T) {
	src := `services:
  web:
    ports:
      # public ports
      - "80:80"   # http
      - '443:443/tcp'
      - 53:53/udp

      - target: 8080
        published: 8080
        mode: ingress # was ingress
      - target: 9090
        published: 9090
  other:
    image: x
`
	want := `services:
  web:
    ports:
      # public ports
      - target: 80   # http
        published: 80
        protocol: tcp
        mode: host
      - target: 443
        published: 443
        protocol: tcp
        mode: host
      - target: 53
        published: 53
        protocol: udp
        mode: host

      - target: 8080
        published: 8080
        mode: host # was ingress
      - target: 9090
        published: 9090
        mode: host
  other:
    image: x
`
	out, _, err := Compose([]byte(src), Settings{PublishMode: "host"})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want {
		t.Errorf("got:\n%s", out)
	}
	if again, ch, _ := Compose(out, Settings{PublishMode: "host"}); len(ch) != 0 || !bytes.Equal(again, out) {
		t.Errorf("second run changed %v", ch)
	}
	if _, _, err := Compose([]byte("services:\n  web:\n    ports: [\"80:80\"]\n"), Settings{PublishMode: "host"}); err == nil ||
		!strings.Contains(err.Error(), `no block list of ports in service "web"`) {
		t.Errorf("flow ports: err %v", err)
	}
	if _, _, err := Compose([]byte("services:\n  web:\n    ports:\n      - \"127.0.0.1:80:80\"\n"), Settings{PublishMode: "host"}); err == nil ||
		!strings.Contains(err.Error(), `port "127.0.0.1:80:80" of service "web" cannot be written in host mode`) {
		t.Errorf("ip-bound port: err %v", err)
	}
}

// Line endings and a missing final newline are kept; lines that grow
// (ports) get the file's CRLF too.
func TestLineEndings(t *testing.T) {
	for _, r := range releases {
		in := releaseFiles(t, r)
		lf, _, err := ApplyAll(in, full())
		if err != nil {
			t.Fatal(err)
		}
		crlf := map[string][]byte{}
		trimmed := map[string][]byte{}
		for f, b := range in {
			crlf[f] = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
			trimmed[f] = bytes.TrimSuffix(b, []byte("\n"))
		}
		out, ch, err := ApplyAll(crlf, full())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range Files {
			if want := bytes.ReplaceAll(lf[f], []byte("\n"), []byte("\r\n")); !bytes.Equal(out[f], want) {
				t.Errorf("%s %s CRLF:\n%s", r, f, UnifiedDiff(f, want, out[f]))
			}
		}
		if _, ch2, _ := ApplyAll(out, full()); len(ch2) != 0 || len(ch) == 0 {
			t.Errorf("%s CRLF: second apply changed %v", r, ch2)
		}
		out, _, err = ApplyAll(trimmed, full())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range Files {
			if want := bytes.TrimSuffix(lf[f], []byte("\n")); !bytes.Equal(out[f], want) {
				t.Errorf("%s %s without final newline:\n%s", r, f, UnifiedDiff(f, want, out[f]))
			}
		}
	}
}

// The password is written to the files but never shown: not in Changes,
// not in the plan's diff.
func TestPasswordHidden(t *testing.T) {
	in := releaseFiles(t, "ba242ac")
	s := Settings{DBPassword: "Secret_PW-12345678"}
	plan, err := Plan(in, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, fe := range plan {
		if !bytes.Contains(fe.New, []byte(s.DBPassword)) {
			t.Errorf("%s: password not written", fe.Path)
		}
		if strings.Contains(fe.Diff, s.DBPassword) || !strings.Contains(fe.Diff, maskNew) || !strings.Contains(fe.Diff, maskOld) {
			t.Errorf("%s: diff:\n%s", fe.Path, fe.Diff)
		}
		for _, c := range fe.Changes {
			if strings.Contains(c.String(), s.DBPassword) || strings.Contains(c.Old, "postgres") || !c.Secret {
				t.Errorf("%s: change shows a password: %v", fe.Path, c)
			}
		}
	}
	if !bytes.Contains(plan[0].New, []byte("POSTGRES_PASSWORD: 'Secret_PW-12345678' # UPDATE THIS\n")) ||
		!bytes.Contains(plan[1].New, []byte("\nAG_DB_PASSWORD=Secret_PW-12345678\n")) {
		t.Error("password lines not as expected")
	}
}
