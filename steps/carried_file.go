package steps

import (
	"encoding/base64"
	"fmt"
	"path"
	"strings"
)

// The keys the probes carry files under.
const (
	carriedLimitsConf = "limits_conf" // discovery: /etc/security/limits.conf
	carriedDaemonJSON = "daemonjson"  // docker's probe: /etc/docker/daemon.json
)

// carriedShown is how a probe's output line shows in the host pane and the
// log: a carried file's base64 (one long line, a few KB, that nobody reads
// there) as its size; every other line as it is.
func carriedShown(line string) string {
	k, v, ok := strings.Cut(line, "=")
	if !ok || (k != carriedLimitsConf && k != carriedDaemonJSON) || len(v) < 16 {
		return line
	}
	return fmt.Sprintf("%s=<%d bytes of base64, not shown>", k, len(v))
}

// carriedFile is a small file a probe script prints whole, as one base64
// line, so that a check needs no session (and no sudo) of its own to read
// it. Neither set: the probe could not say (the file unreadable to the
// user), and the check reads it itself.
type carriedFile struct {
	data    []byte
	read    bool // data holds the file
	missing bool // there is no such file
}

func (f carriedFile) known() bool { return f.read || f.missing }

// carriedFileScript prints "KEY=<base64>" when the user may read file, or
// "KEY_missing=1" when the folder is open to the user and the file is not
// there; nothing otherwise.
func carriedFileScript(key, file string) string {
	return `if [ -r ` + file + ` ] && b=$(base64 -w0 ` + file + `); then echo "` + key + `=$b"
elif [ -x ` + path.Dir(file) + ` ] && ! [ -e ` + file + ` ] && ! [ -L ` + file + ` ]; then echo ` + key + `_missing=1
fi
`
}

// take reads one key=value line of that script's output; it says whether
// the line was the file's. A value that is not strict base64 leaves the
// file unknown.
func (f *carriedFile) take(key, k, v string) bool {
	switch k {
	case key:
		b, err := base64.StdEncoding.Strict().DecodeString(v)
		if err == nil {
			f.data, f.read = b, true
		}
		return true
	case key + "_missing":
		f.missing = v == "1"
		return true
	}
	return false
}
