package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"

	"aginstall/remote"
	"aginstall/steps/edit"
)

// settingsStep edits the checkout on the manager (tuning, domain, TLS paths,
// database password and image, OAuth, tiny services, publish mode) and
// makes the server's secrets, all before any image is built: the images
// bake these files in.
type settingsStep struct{}

func init() { register(OrderSettings, settingsStep{}) }

func (settingsStep) ID() string    { return "settings" }
func (settingsStep) Title() string { return "Site settings, constants and secrets" }

// Hosts is the manager, plus the webserver hosts whose TLS files are checked.
func (settingsStep) Hosts(c *Cluster) []string {
	out := []string{c.Manager}
	for _, h := range settingsTLSHosts(c) {
		if h != c.Manager {
			out = append(out, h)
		}
	}
	return out
}

// Inputs: the values written into the files (never the password).
func (settingsStep) Inputs(c *Cluster) any {
	return struct {
		T   TuningSpec
		S   SiteSpec
		P   string
		Ref string
	}{c.Tuning, c.Site, c.Swarm.PublishMode, c.Source.Ref}
}

const (
	settingsDefaultDBPassword = "postgres" // upstream's _prod.env and compose value
	settingsSecretsTimeout    = 120        // seconds for generate_secrets.py
	settingsOAuthFile         = "autograder-server/autograder/settings/oauth2_secrets.json"
)

// settingsSecretFiles are what generate_secrets.py writes; settings refuse to start without them.
var settingsSecretFiles = []string{
	"autograder/settings/secrets/secret_key",
	"autograder/settings/secrets/gpg_key_id_file",
	"autograder/settings/secrets/gpg_key_password",
}

// settingsWanted maps the cluster file onto the editors' settings.
func settingsWanted(c *Cluster, dbPassword string) edit.Settings {
	s := edit.Settings{
		GunicornWorkers:      c.Tuning.GunicornWorkers,
		CeleryConcurrency:    c.Tuning.CeleryConcurrency,
		ClientMaxBodySize:    c.Tuning.ClientMaxBodySize,
		MaxSubprocessTimeout: c.Tuning.MaxSubprocessTimeout,
		SysadminContact:      c.Tuning.SysadminContact,
		Domain:               c.Site.Domain,
		TLSCert:              c.Site.TLSCert,
		TLSKey:               c.Site.TLSKey,
		PostgresImage:        c.Site.PostgresImage,
		DBPassword:           dbPassword,
		OAuthProvider:        c.Site.OAuthProvider,
		PublishMode:          c.Swarm.PublishMode,
	}
	// The guide: tiny workers need their services uncommented; only do it
	// when some node will run one.
	for _, h := range c.Hosts {
		for _, l := range h.Labels {
			if strings.HasPrefix(l, "tiny_") {
				s.UncommentTiny = true
			}
		}
	}
	return s
}

// settingsTLSHosts are the hosts labelled webserver (nginx reads the TLS files there).
func settingsTLSHosts(c *Cluster) []string {
	if c.Site.TLSCert == "" && c.Site.TLSKey == "" {
		return nil
	}
	var out []string
	for _, h := range c.Hosts {
		for _, l := range h.Labels {
			if l == "webserver" {
				out = append(out, h.Name)
			}
		}
	}
	return out
}

// settingsCurrentPassword reads AG_DB_PASSWORD from _prod.env; keep is true
// when it is set to something other than upstream's default, so a second
// run (or a run after an upgrade) never changes a working database password.
func settingsCurrentPassword(prodEnv []byte) (pw string, keep bool) {
	for _, l := range strings.Split(string(prodEnv), "\n") {
		l = strings.TrimRight(l, "\r")
		if v, ok := strings.CutPrefix(l, "AG_DB_PASSWORD="); ok {
			pw = v
		}
	}
	return pw, pw != "" && pw != settingsDefaultDBPassword
}

// settingsDeployedPassword reads POSTGRES_PASSWORD from the deployed
// postgres service: after an upgrade that reset the checkout's files, the
// existing database still has the password it was created with, so that one
// is written back rather than a new one. "" when there is none.
func settingsDeployedPassword(ctx context.Context, h *HostRunner, stack string) string {
	var pw string
	svc := stack + "_postgres"
	h.API(ctx, "read the deployed database password", "ServiceList(name="+svc+") (POSTGRES_PASSWORD not shown)", false, func(ctx context.Context, c *client.Client) error {
		res, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("name", svc)})
		for _, s := range res.Items {
			if s.Spec.Name == svc && s.Spec.TaskTemplate.ContainerSpec != nil {
				for _, e := range s.Spec.TaskTemplate.ContainerSpec.Env {
					if v, ok := strings.CutPrefix(e, "POSTGRES_PASSWORD="); ok && v != settingsDefaultDBPassword {
						pw = v
					}
				}
			}
		}
		return err
	})
	return pw
}

// settingsPassword picks the database password: the checkout's own when it
// is not upstream's default, else the deployed one, else "" (generate).
func settingsPassword(ctx context.Context, env *Env, h *HostRunner, prodEnv []byte) (string, bool) {
	pw, keep := settingsCurrentPassword(prodEnv)
	if !keep {
		if pw = settingsDeployedPassword(ctx, h, env.Cluster.Stack); pw != "" {
			keep = true
		}
	}
	if keep {
		env.Secrets.Add(pw) // before any record, event or diff can carry it
	}
	return pw, keep
}

// SettingsOwnedFiles are the checkout-relative files the settings step
// edits. Switching source.ref may reset them: the step writes them again,
// and takes the database password back from the deployed stack.
func SettingsOwnedFiles() []string { return append([]string{}, edit.Files...) }

// settingsNewPassword makes 32 characters of [A-Za-z0-9] from crypto/rand.
func settingsNewPassword() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}

// settingsRead reads the editors' files from the checkout. missing lists
// the files that are not there (the checkout is not made yet, or is not a
// full autograder-full-stack checkout).
func settingsRead(ctx context.Context, h *HostRunner, root string) (files map[string][]byte, missing []string, err error) {
	var paths []string
	for _, f := range edit.Files {
		paths = append(paths, path.Join(root, f))
	}
	read, err := h.ReadFiles(ctx, "read the files the settings edit", paths, true)
	if err != nil {
		return nil, nil, err
	}
	files = map[string][]byte{}
	for i, f := range edit.Files {
		if data, ok := read[paths[i]]; ok {
			files[f] = data
		} else {
			missing = append(missing, f)
		}
	}
	return files, missing, nil
}

// settingsMissingSecrets lists generate_secrets.py outputs that are absent or empty.
func settingsMissingSecrets(ctx context.Context, h *HostRunner, root string) ([]string, error) {
	missing, _, err := settingsProbe(ctx, h, root)
	return missing, err
}

// settingsProbe lists, in one round trip, the generate_secrets.py outputs
// that are absent or empty, and the files holding the database password
// that others may read (mode not 600): an edit sets 600, but a file left
// unchanged keeps whatever mode it had.
func settingsProbe(ctx context.Context, h *HostRunner, root string) (missing, loose []string, err error) {
	var tests []string
	for _, f := range settingsSecretFiles {
		tests = append(tests, fmt.Sprintf("[ -s %s ] || echo %s", remote.Quote(f), remote.Quote("missing="+f)))
	}
	dir := path.Join(root, "autograder-server")
	var secret []string
	for _, f := range edit.Files {
		if settingsFileMode(f) == 0o600 {
			secret = append(secret, remote.Quote(f))
		}
	}
	line := fmt.Sprintf("cd %s 2>/dev/null && stat -c 'mode=%%a %%n' -- %s 2>/dev/null; cd %s 2>/dev/null || { echo nodir; exit 0; }; %s",
		remote.Quote(root), strings.Join(secret, " "), remote.Quote(dir), strings.Join(tests, "; "))
	res, err := h.Query(ctx, "check the server's secrets exist and who may read the password files", remote.Command{Line: line, Sudo: true})
	if err != nil {
		return nil, nil, err
	}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "nodir":
			missing = append([]string(nil), settingsSecretFiles...)
		case "missing":
			missing = append(missing, v)
		case "mode":
			if mode, f, ok := strings.Cut(v, " "); ok && mode != "600" {
				loose = append(loose, f)
			}
		}
	}
	return missing, loose, nil
}

// settingsTLSMissing names the certificate/key files absent on a webserver host.
func settingsTLSMissing(ctx context.Context, h *HostRunner, c *Cluster) ([]string, error) {
	var tests []string
	for _, p := range []string{c.Site.TLSCert, c.Site.TLSKey} {
		if p != "" {
			tests = append(tests, fmt.Sprintf("[ -f %s ] || echo %s", remote.Quote(p), remote.Quote(p)))
		}
	}
	res, err := h.Query(ctx, "check the TLS certificate and key exist", remote.Command{Line: strings.Join(tests, "; "), Sudo: true})
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(res.Stdout)), nil
}

func settingsTLSFix(c *Cluster, host string, missing []string) string {
	return fmt.Sprintf("put the certificate chain at %s and the private key at %s on %s (nginx reads them there), or change site.tls_cert / site.tls_key in %s",
		c.Site.TLSCert, c.Site.TLSKey, host, c.Path)
}

// settingsOAuthLocal reads the operator's OAuth client file (relative paths
// are relative to the cluster file).
func settingsOAuthLocal(c *Cluster) ([]byte, string, error) {
	p := c.Site.OAuthSecrets
	if p == "" {
		return nil, "", nil
	}
	if !filepath.IsAbs(p) && c.Path != "" {
		p = filepath.Join(filepath.Dir(c.Path), p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, p, fmt.Errorf("site.oauth_secrets: cannot read %s: %v (download the client JSON from your OAuth provider and point site.oauth_secrets at it)", p, err)
	}
	return data, p, nil
}

// settingsPlan computes every file edit for the given password.
func settingsPlan(c *Cluster, files map[string][]byte, pw string) ([]edit.FileEdit, error) {
	return edit.Plan(files, settingsWanted(c, pw))
}

// settingsPostgresWarning is said whenever the postgres image changes.
func settingsPostgresWarning(plan []edit.FileEdit) string {
	for _, fe := range plan {
		for _, ch := range fe.Changes {
			if ch.What == "postgres image" {
				return fmt.Sprintf("the postgres image changes (%s -> %s): an existing database cannot be read by another major version; dump it (pg_dumpall) and restore it into a new volume first, as upstream's upgrade guide says, or its data will not be there",
					strings.TrimSpace(ch.Old), strings.TrimSpace(ch.New))
			}
		}
	}
	return ""
}

func (s settingsStep) Check(ctx context.Context, env *Env) []HostCheck {
	c := env.Cluster
	h := env.On(s.ID(), c.Manager)
	out := []HostCheck{s.checkManager(ctx, env, h)}
	for _, host := range settingsTLSHosts(c) {
		hc := HostCheck{Host: host, Status: Done, Reason: "TLS certificate and key present"}
		missing, err := settingsTLSMissing(ctx, env.On(s.ID(), host), c)
		switch {
		case err != nil:
			hc = HostCheck{Host: host, Status: Unknown, Reason: "cannot check the TLS files: " + err.Error()}
		case len(missing) > 0:
			hc = HostCheck{Host: host, Status: Todo, Reason: "missing on " + host + ": " + strings.Join(missing, ", "), Fix: settingsTLSFix(c, host, missing)}
		}
		if host == c.Manager {
			out[0] = settingsMerge(out[0], hc)
		} else {
			out = append(out, hc)
		}
	}
	return out
}

// settingsMerge folds the manager's TLS verdict into its settings verdict.
func settingsMerge(a, b HostCheck) HostCheck {
	if b.Status == Done {
		return a
	}
	if a.Status == Done {
		return b
	}
	a.Reason += "; " + b.Reason
	if b.Fix != "" {
		a.Fix = strings.TrimPrefix(a.Fix+"; "+b.Fix, "; ")
	}
	return a
}

func (s settingsStep) checkManager(ctx context.Context, env *Env, h *HostRunner) HostCheck {
	c := env.Cluster
	hc := HostCheck{Host: c.Manager}
	files, missing, err := settingsRead(ctx, h, c.Source.Path)
	if err != nil {
		hc.Status, hc.Reason = Unknown, "cannot read the checkout: "+err.Error()
		return hc
	}
	if len(missing) > 0 {
		hc.Status, hc.Reason = Todo, fmt.Sprintf("not in %s yet: %s", c.Source.Path, strings.Join(missing, ", "))
		hc.Fix = "the source step checks the repository out first"
		return hc
	}
	var todo []string
	pw, keep := settingsPassword(ctx, env, h, files[edit.ProdEnvFile])
	if !keep {
		todo = append(todo, "a database password is to be generated (AG_DB_PASSWORD is upstream's default)")
		pw = strings.Repeat("x", 32) // any valid value: only to see what else would change
	}
	plan, err := settingsPlan(c, files, pw)
	if err != nil {
		hc.Status, hc.Reason = Todo, "the files cannot be edited: "+err.Error()
		hc.Fix = "this aginstall does not know this layout of autograder-full-stack; edit these values by hand or use a release it knows"
		return hc
	}
	for _, fe := range plan {
		if n := settingsCountChanges(fe, keep); n > 0 {
			todo = append(todo, fmt.Sprintf("%s: %d line(s) to change", fe.Path, n))
		}
	}
	if w := settingsPostgresWarning(plan); w != "" {
		todo = append(todo, "warning: "+w)
	}
	if sec, loose, err := settingsProbe(ctx, h, c.Source.Path); err != nil {
		todo = append(todo, "cannot check the secrets: "+err.Error())
	} else {
		if len(sec) > 0 {
			todo = append(todo, "generate_secrets.py has not written "+strings.Join(sec, ", "))
		}
		if len(loose) > 0 {
			todo = append(todo, strings.Join(loose, ", ")+": others may read the database password (mode 600 to set)")
		}
	}
	if local, p, err := settingsOAuthLocal(c); err != nil {
		hc.Status, hc.Reason, hc.Fix = Todo, err.Error(), "fix site.oauth_secrets in the cluster file"
		return hc
	} else if p != "" {
		remoteData, err := h.ReadFile(ctx, "read the OAuth secrets", path.Join(c.Source.Path, settingsOAuthFile), true)
		if err != nil || !bytes.Equal(remoteData, local) {
			todo = append(todo, "the OAuth secrets file is to be copied from "+p)
		}
	}
	if len(todo) == 0 {
		hc.Status, hc.Reason = Done, "the checkout has the site's settings and the server's secrets"
		return hc
	}
	hc.Status, hc.Reason = Todo, strings.Join(todo, "; ")
	return hc
}

// settingsCountChanges counts a file's changed lines; with a placeholder
// password (keep false) the password lines are not counted, the
// "password to be generated" reason already says so.
func settingsCountChanges(fe edit.FileEdit, keep bool) int {
	n := 0
	for _, ch := range fe.Changes {
		if keep || (ch.What != "database password" && ch.What != "postgres password") {
			n++
		}
	}
	return n
}

func (s settingsStep) Apply(ctx context.Context, env *Env) error {
	c := env.Cluster
	h := env.On(s.ID(), c.Manager)
	fail := func(purpose string, err error, next string) error {
		return &StepError{Step: s.ID(), Host: c.Manager, Purpose: purpose, Err: err, Next: next}
	}
	if err := consentRefusal(env, s.ID(), c.Manager, s.DataChanges(ctx, env)); err != nil {
		return err
	}
	// TLS first: nothing is written unless the whole site can work.
	for _, host := range settingsTLSHosts(c) {
		missing, err := settingsTLSMissing(ctx, env.On(s.ID(), host), c)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return &StepError{Step: s.ID(), Host: host, Purpose: "check the TLS certificate and key exist",
				Err: fmt.Errorf("missing: %s", strings.Join(missing, ", ")), Next: settingsTLSFix(c, host, missing)}
		}
	}
	local, _, err := settingsOAuthLocal(c)
	if err != nil {
		return fail("read the OAuth secrets file", err, "fix site.oauth_secrets in "+c.Path)
	}
	files, missing, err := settingsRead(ctx, h, c.Source.Path)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if h.DryRun() {
			// Planned before the checkout exists: say what will be edited.
			for _, f := range edit.Needed(settingsWanted(c, "x")) {
				h.WriteFile(ctx, "edit "+f, path.Join(c.Source.Path, f), nil, []byte("planned"), remote.WriteOptions{Sudo: true, Backup: true, BackupDir: backupDir},
					"(the diff is computed once the source step has checked the repository out)")
			}
			settingsPlanSecrets(ctx, h, c, local)
			return nil
		}
		return fail("read the files to edit", fmt.Errorf("not found in %s: %s", c.Source.Path, strings.Join(missing, ", ")),
			"check that source.path is an autograder-full-stack checkout with its submodules (git submodule update --init --recursive), then run apply again")
	}
	pw, keep := settingsPassword(ctx, env, h, files[edit.ProdEnvFile])
	if !keep {
		if pw, err = settingsNewPassword(); err != nil {
			return fail("generate the database password", err, "")
		}
	}
	env.Secrets.Add(pw) // before any record or diff can carry it
	plan, err := settingsPlan(c, files, pw)
	if err != nil {
		return fail("compute the edits", err, "nothing was written; this layout of autograder-full-stack is not one aginstall knows: edit these values by hand, or use a release it knows")
	}
	if w := settingsPostgresWarning(plan); w != "" {
		siteOutput(h, "stderr", "warning: "+w)
	}
	secretsMissing, loose, err := settingsProbe(ctx, h, c.Source.Path)
	if err != nil {
		return err
	}
	written := map[string]bool{}
	for _, fe := range plan {
		changed, err := h.WriteFile(ctx, "edit "+fe.Path, path.Join(c.Source.Path, fe.Path), fe.Old, fe.New,
			remote.WriteOptions{Sudo: true, Backup: true, BackupDir: backupDir, Mode: settingsFileMode(fe.Path)}, fe.Diff)
		if err != nil {
			return err
		}
		written[fe.Path] = changed
	}
	for _, f := range loose {
		if written[f] {
			continue // the write set 600 already
		}
		if _, err := h.Run(ctx, "make "+f+" readable by its owner only (it holds the database password)",
			remote.Command{Line: "chmod 600 -- " + remote.Quote(path.Join(c.Source.Path, f)), Sudo: true}); err != nil && !errors.Is(err, ErrDryRun) {
			return err
		}
	}
	if local != nil {
		dst := path.Join(c.Source.Path, settingsOAuthFile)
		old, err := h.ReadFile(ctx, "read the OAuth secrets", dst, true)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if _, err := h.WriteFile(ctx, "copy the OAuth secrets", dst, old, local,
			remote.WriteOptions{Sudo: true, Mode: 0o600, Backup: true, BackupDir: backupDir}, "(OAuth client secrets: contents not shown)"); err != nil {
			return err
		}
	}
	return settingsSecrets(ctx, h, c, secretsMissing)
}

// backupDir keeps the backups of files that must not have them beside: the
// checkout is the images' build context (they COPY the whole server folder,
// which would ship every old _prod.env), and apt reads all of sources.list.d.
const backupDir = "/var/backups/aginstall"

// settingsFileMode: the files that carry the database password are readable by
// their owner only (the owner, the checkout's user, is kept); others keep their mode.
func settingsFileMode(file string) fs.FileMode {
	if file == edit.ProdEnvFile || file == edit.ComposeFile {
		return 0o600
	}
	return 0
}
