package steps

import "testing"

func TestSudoShownReadsAsWhatRuns(t *testing.T) {
	for line, want := range map[string]string{
		"systemctl restart docker":        "sudo systemctl restart docker",
		"env AG_PATH=/srv/ag sh -s":       "sudo env AG_PATH=/srv/ag sh -s",
		"cd /srv/ag && docker compose up": `sudo sh -c 'cd /srv/ag && docker compose up'`,
		"tee /etc/x >/dev/null":           `sudo sh -c 'tee /etc/x >/dev/null'`,
		"echo $(id -u); true":             `sudo sh -c 'echo $(id -u); true'`,
		"printf '%s' 'it''s'":             `sudo printf '%s' 'it''s'`,
	} {
		if got := sudoShown(line); got != want {
			t.Errorf("sudoShown(%q) = %q, want %q", line, got, want)
		}
	}
}
