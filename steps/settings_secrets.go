package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"aginstall/remote"
)

// Upstream's generate_secrets.py imports the server's settings module,
// Django's get_random_secret_key and python-gnupg, and makes a GnuPG key
// pair: on a fresh manager none of that is there. aginstall installs it from
// the distribution (Debian/Ubuntu package names) rather than running the
// script in a throw-away container: the stack's own images are built after
// the secrets (they COPY them), a stock python image would need PyPI for
// Django and python-gnupg (hosts without internet reach only their apt
// mirror), and the GnuPG keyring is then written by the same gpg the
// operator finds on the host. The packages come from the apt sources the
// host already uses for git and Docker.
var settingsSecretsPkgs = []string{"python3-django", "python3-gnupg", "gnupg"}

// settingsSecretsDepsProbe prints ok when the script's imports and gpg are there.
const settingsSecretsDepsProbe = `python3 -c 'import django.core.management.utils, gnupg' >/dev/null 2>&1 && command -v gpg >/dev/null 2>&1 && echo ok; command -v apt-get >/dev/null 2>&1 && echo apt`

// settingsSecretsDeps installs what generate_secrets.py needs on the manager
// when it is missing (read-only probe first; in a dry run the install is planned).
func settingsSecretsDeps(ctx context.Context, h *HostRunner, c *Cluster) error {
	res, err := h.Query(ctx, "check generate_secrets.py's needs (Django, python-gnupg, gpg)", remote.Command{Line: settingsSecretsDepsProbe})
	if err != nil {
		return err
	}
	out := " " + strings.Join(strings.Fields(string(res.Stdout)), " ") + " "
	if strings.Contains(out, " ok ") {
		return nil
	}
	if !strings.Contains(out, " apt ") && !h.DryRun() {
		return &StepError{Step: "settings", Host: c.Manager, Purpose: "install what generate_secrets.py needs", Command: settingsSecretsDepsProbe,
			Err:  errors.New("Django, python-gnupg or gpg is missing and this host has no apt-get"),
			Next: fmt.Sprintf("install Python 3 Django, python-gnupg and GnuPG on %s with its package manager, then run apply again", c.Manager)}
	}
	for _, cmd := range []aptCmd{
		{"refresh the package lists", aptEnv + "update"},
		{"install what generate_secrets.py needs (Django, python-gnupg, GnuPG)", aptEnv + "install -y " + remote.Quote(settingsSecretsPkgs...)},
	} {
		if err := runApt(ctx, h, cmd); err != nil {
			return err
		}
	}
	return nil
}

// settingsPlanSecrets records, in a plan made before the checkout exists,
// the secrets and OAuth actions apply will take.
func settingsPlanSecrets(ctx context.Context, h *HostRunner, c *Cluster, oauth []byte) {
	if oauth != nil {
		h.WriteFile(ctx, "copy the OAuth secrets", path.Join(c.Source.Path, settingsOAuthFile), nil, oauth,
			remote.WriteOptions{Sudo: true, Mode: 0o600}, "(OAuth client secrets: contents not shown)")
	}
	_ = settingsSecretsDeps(ctx, h, c)
	h.Run(ctx, "generate the server's secrets", settingsSecretsCommand(c))
}

func settingsSecretsCommand(c *Cluster) remote.Command {
	dir := path.Join(c.Source.Path, "autograder-server")
	return remote.Command{Line: fmt.Sprintf("cd %s && timeout %d python3 generate_secrets.py", remote.Quote(dir), settingsSecretsTimeout), Sudo: true}
}

// settingsSecrets runs generate_secrets.py when its outputs are missing (as
// settingsProbe found them; editing the settings files does not touch
// them), after installing what it needs. Making the GPG key can wait
// forever for entropy, hence the timeout and its message.
func settingsSecrets(ctx context.Context, h *HostRunner, c *Cluster, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	if err := settingsSecretsDeps(ctx, h, c); err != nil {
		return err
	}
	_, err := h.Run(ctx, "generate the server's secrets", settingsSecretsCommand(c))
	if err == nil {
		// python-gnupg's gpg started an agent for the secrets folder: stop it
		// rather than leave a daemon and its sockets behind. Upstream's
		// script writes with the default umask (the GPG password and
		// keyring readable by every user): make the folder its owner's.
		dir := remote.Quote(path.Join(c.Source.Path, "autograder-server/autograder/settings/secrets"))
		if _, err := h.Run(ctx, "stop the GnuPG agent generate_secrets.py started; make the secrets readable by their owner only", remote.Command{Sudo: true,
			Line: "{ gpgconf --homedir " + dir + " --kill gpg-agent 2>/dev/null || true; } && chmod -R go= -- " + dir}); realErr(err) {
			return err
		}
	}
	if err == nil || errors.Is(err, ErrDryRun) {
		return err
	}
	var se *StepError
	var xe *remote.ExitError
	if errors.As(err, &se) && errors.As(err, &xe) {
		tail := strings.Join(xe.StderrTail, "\n")
		switch {
		case xe.Code == 124:
			se.Next = fmt.Sprintf("generate_secrets.py did not finish in %d s: making the GPG key waits for entropy, which a fresh virtual machine may lack. Install an entropy daemon on %s (apt-get install haveged, or rng-tools), then run apply again", settingsSecretsTimeout, c.Manager)
		case strings.Contains(tail, "No module named"):
			se.Next = fmt.Sprintf("generate_secrets.py needs Django and python-gnupg on %s: apt-get install python3-django python3-gnupg gnupg (or pip install django python-gnupg), then run apply again", c.Manager)
		}
	}
	return err
}
