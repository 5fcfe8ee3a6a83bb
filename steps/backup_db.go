package steps

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// The database side of backups and restores: scripts run in the postgres
// task's container (as its postgres user, over the local socket, where the
// official image trusts local connections), and what they print.

// dbOutPrefix marks the lines the scripts print on stderr for aginstall.
const dbOutPrefix = "AGINSTALL "

// dbFactsSQL prints the server's version, the database's size and each
// public table's row count, one AGINSTALL line each.
const dbFactsSQL = `SELECT 'AGINSTALL VERSION ' || current_setting('server_version_num') || ' ' || current_setting('server_version');
SELECT 'AGINSTALL SIZE ' || pg_database_size(current_database());
SELECT 'AGINSTALL COUNT ' || table_name || ' ' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM public.%I', table_name), false, true, '')))[1]::text
  FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name;`

// dbDumpPSQL is psql's input for a dump: the row counts are read in the
// transaction whose snapshot pg_dump then uses (--snapshot), so they describe
// exactly the rows in the dump while the site keeps running. pg_dump writes
// to fd 3, the exec's stdout; psql's own output goes to stderr.
const dbDumpPSQL = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_export_snapshot() AS aginstall_snapshot \gset
\setenv AG_SNAPSHOT :aginstall_snapshot
` + dbFactsSQL + `
\! pg_dump -Fc -Z 6 --snapshot="$AG_SNAPSHOT" -U "$AG_U" -d "$AG_DB" >&3 || echo "AGINSTALL DUMPFAILED $?" >&2
COMMIT;`

// dbPSQL runs psql's input $2 against database $1, output on stderr.
const dbPSQL = `export AG_DB=$1 AG_U=${POSTGRES_USER:-postgres}
printf '%s\n' "$2" | psql -X -q -At -v ON_ERROR_STOP=1 -U "$AG_U" -d "$AG_DB" >&2`

// dbDumpScript dumps $1 in pg_dump's custom format (compressed) to stdout.
const dbDumpScript = "set -euo pipefail\nexec 3>&1\n" + dbPSQL

// dbFactsScript prints the facts only.
const dbFactsScript = "set -euo pipefail\n" + dbPSQL

// dbRestoreScript restores the next $3 bytes of stdin (a pg_dump -Fc archive)
// into $1 in one transaction, replacing what is there, then prints the facts ($2).
const dbRestoreScript = `set -euo pipefail
head -c "$3" | pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error -U "${POSTGRES_USER:-postgres}" -d "$1"
` + dbPSQL

// dbReadyScript waits (bounded) until the server accepts connections: a new
// volume's first start runs initdb before it listens.
//
// On a new data directory the image's entrypoint first runs a server on the
// socket only (listen_addresses empty) for its init scripts, then stops it: a
// socket that answers may go away a moment later. The final server listens
// on TCP too and is the container's PID 1 (the entrypoint execs it), so
// ready means the socket answers and one of those holds.
const dbReadyScript = `u=${POSTGRES_USER:-postgres}
for i in $(seq 1 90); do
  if pg_isready -q -U "$u" && { pg_isready -q -h 127.0.0.1 -U "$u" || [ "$(cat /proc/1/comm 2>/dev/null)" = postgres ]; }; then exit 0; fi
  sleep 1
done
echo "postgres did not accept connections within 90 s" >&2; exit 1`

// DBFacts is what the facts query reported.
type DBFacts struct {
	VersionNum int              // server_version_num, e.g. 150010
	Version    string           // server_version, e.g. 15.10 (Debian 15.10-0+deb12u1)
	Size       int64            // pg_database_size, bytes
	Rows       map[string]int64 // public table -> row count
}

// parseDBFacts reads the AGINSTALL lines of a script's stderr. Host text is
// parsed strictly: table names are identifiers, counts are numbers.
func parseDBFacts(stderr string) (DBFacts, error) {
	f := DBFacts{Rows: map[string]int64{}}
	for _, l := range strings.Split(stderr, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), dbOutPrefix)
		if !ok {
			continue
		}
		kind, val, _ := strings.Cut(rest, " ")
		switch kind {
		case "VERSION":
			num, text, _ := strings.Cut(val, " ")
			n, err := strconv.Atoi(num)
			if err != nil || n <= 0 {
				return f, fmt.Errorf("unexpected server_version_num %q", num)
			}
			f.VersionNum, f.Version = n, sanitizeLine(text)
		case "SIZE":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return f, fmt.Errorf("unexpected database size %q", val)
			}
			f.Size = n
		case "COUNT":
			i := strings.LastIndexByte(val, ' ')
			if i < 0 {
				return f, fmt.Errorf("unexpected row count line %q", sanitizeLine(rest))
			}
			name, num := val[:i], val[i+1:]
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || !isTableName(name) {
				return f, fmt.Errorf("unexpected row count line %q", sanitizeLine(rest))
			}
			f.Rows[name] = n
		case "DUMPFAILED":
			return f, fmt.Errorf("pg_dump failed (exit %s); its message is above", sanitizeLine(val))
		}
	}
	if f.VersionNum == 0 {
		return f, fmt.Errorf("the server did not report its version")
	}
	return f, nil
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// isTableName: a PostgreSQL name (at most 63 bytes), valid UTF-8 without
// control characters, so it can be shown and compared safely.
func isTableName(s string) bool {
	if s == "" || len(s) > 63 || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// sanitizeLine keeps printable ASCII only: host text is hostile.
func sanitizeLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// PGMajor is the major version of a server_version_num: 90524 -> 9.5,
// 150010 -> 15.
func PGMajor(num int) string {
	if num >= 100000 {
		return strconv.Itoa(num / 10000)
	}
	return fmt.Sprintf("%d.%d", num/10000, num/100%100)
}

// dbTask is the postgres task with what a backup or restore needs about it.
type dbTask struct {
	serviceTask
	Service  string // <stack>_postgres
	Image    string // the service's image as the stack file names it
	Database string // AG_DB_NAME of the writers (upstream: postgres)
}

// findDBTask finds the postgres task, its image, and the database the site uses.
func findDBTask(ctx context.Context, env *Env, step string) (dbTask, error) {
	t, err := findServiceTask(ctx, env, step, "postgres")
	if err != nil {
		return dbTask{}, err
	}
	d := dbTask{serviceTask: t, Service: env.Cluster.Stack + "_postgres", Database: "postgres"}
	err = env.On(step, env.Cluster.Manager).API(ctx, "read the postgres and django services", "ServiceInspect("+d.Service+"), ServiceInspect("+env.Cluster.Stack+"_django)", false,
		func(ctx context.Context, cl *client.Client) error {
			res, err := cl.ServiceInspect(ctx, d.Service, client.ServiceInspectOptions{})
			if err != nil {
				return err
			}
			if cs := res.Service.Spec.TaskTemplate.ContainerSpec; cs != nil {
				d.Image, _, _ = strings.Cut(cs.Image, "@") // stack deploy pins a digest
			}
			dj, err := cl.ServiceInspect(ctx, env.Cluster.Stack+"_django", client.ServiceInspectOptions{})
			if err == nil && dj.Service.Spec.TaskTemplate.ContainerSpec != nil {
				if v := envValue(dj.Service.Spec.TaskTemplate.ContainerSpec.Env, "AG_DB_NAME"); isIdentifier(v) {
					d.Database = v
				}
			}
			return nil
		})
	return d, err
}

func envValue(envv []string, key string) string {
	for _, kv := range envv {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// waitDBReady waits until postgres accepts connections.
func waitDBReady(ctx context.Context, env *Env, step string, d dbTask) error {
	h := env.On(step, d.Host)
	h.Progress("waiting for postgres on "+d.Node+" to accept connections", 0, 0)
	_, err := streamExec{Purpose: "wait for postgres to accept connections", Call: "exec pg_isready (every 1 s, at most 90 s) in container " + siteShortID(d.Container),
		Container: d.Container, User: "postgres", Cmd: []string{"bash", "-c", dbReadyScript}, Limit: 2 * time.Minute}.run(ctx, h)
	return err
}

// readDBFacts asks the running server for its version, size and row counts.
func readDBFacts(ctx context.Context, env *Env, step string, d dbTask) (DBFacts, error) {
	h := env.On(step, d.Host)
	stderr, err := streamExec{Purpose: "read the server version and row counts", Call: "exec psql -c <version, size and row counts of the public tables> " + d.Database + " in container " + siteShortID(d.Container),
		Container: d.Container, User: "postgres", Cmd: []string{"bash", "-c", dbFactsScript, "aginstall-facts", d.Database, dbFactsSQL}}.run(ctx, h)
	if err != nil {
		return DBFacts{}, err
	}
	return parseDBFacts(stderr)
}

// dumpDB streams a consistent pg_dump -Fc of the site's database into w,
// showing progress, and returns the facts read in the dump's snapshot.
func dumpDB(ctx context.Context, env *Env, step string, d dbTask, w io.Writer, sizeHint int64) (DBFacts, error) {
	h := env.On(step, d.Host)
	pw := &progressWriter{h: h, what: "dumping " + d.Database + " on " + d.Node, total: sizeHint, interval: time.Second}
	stderr, err := streamExec{Purpose: "dump the database (consistent snapshot, compressed)",
		Call:      fmt.Sprintf("exec pg_dump -Fc -Z 6 --snapshot=<the row counts' snapshot> -d %s in container %s (task %s), streamed here", d.Database, siteShortID(d.Container), d.TaskID),
		Container: d.Container, User: "postgres", Cmd: []string{"bash", "-c", dbDumpScript, "aginstall-dump", d.Database, dbDumpPSQL},
		Stdout: io.MultiWriter(w, pw)}.run(ctx, h)
	pw.report()
	if err != nil {
		return DBFacts{}, err
	}
	return parseDBFacts(stderr)
}

// restoreDB replaces the database with the archive (n bytes from r) and
// returns the facts read after it.
func restoreDB(ctx context.Context, env *Env, step string, d dbTask, r io.Reader, n int64) (DBFacts, error) {
	h := env.On(step, d.Host)
	pr := &progressReader{r: r, p: progressWriter{h: h, what: "restoring " + d.Database + " on " + d.Node, total: n, interval: time.Second}}
	stderr, err := streamExec{Purpose: "restore the database (one transaction, replacing what is there)",
		Call:      fmt.Sprintf("exec pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error -d %s in container %s (task %s), archive of %d bytes sent on stdin", d.Database, siteShortID(d.Container), d.TaskID, n),
		Container: d.Container, User: "postgres", Cmd: []string{"bash", "-c", dbRestoreScript, "aginstall-restore", d.Database, dbFactsSQL, strconv.FormatInt(n, 10)},
		Stdin: pr, Mutating: true}.run(ctx, h)
	pr.p.report()
	if err != nil {
		return DBFacts{}, err
	}
	return parseDBFacts(stderr)
}

type progressReader struct {
	r io.Reader
	p progressWriter
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.p.Write(b[:n])
	return n, err
}

// CompareRows lists the tables whose row counts differ from want.
func CompareRows(want, got map[string]int64) []string {
	var diff []string
	for t, n := range want {
		if g, ok := got[t]; !ok {
			diff = append(diff, fmt.Sprintf("%s: %d rows in the backup, table missing", t, n))
		} else if g != n {
			diff = append(diff, fmt.Sprintf("%s: %d rows in the backup, %d now", t, n, g))
		}
	}
	sort.Strings(diff)
	return diff
}

// runningTask reports whether a task list has a running task.
func runningTasks(tasks []swarm.Task) int {
	n := 0
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning || t.Status.State == swarm.TaskStateStarting {
			n++
		}
	}
	return n
}
