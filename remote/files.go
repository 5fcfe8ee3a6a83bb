package remote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// FileInfo is what Stat reports; Exists is false (and the rest zero) for a
// missing file. Symlinks are followed, as ReadFile and WriteFile do.
type FileInfo struct {
	Exists   bool
	Mode     fs.FileMode
	UID, GID int
	Size     int64
}

const exitMissing = 66 // our scripts' "no such file", distinct from the tools' 1

// ReadFile returns the content of path; a missing file gives an error that
// satisfies errors.Is(err, fs.ErrNotExist).
func (c *Conn) ReadFile(ctx context.Context, path string, sudo bool) ([]byte, error) {
	q := Quote(path)
	line := "{ [ -e " + q + " ] || [ -L " + q + " ]; } || exit " + strconv.Itoa(exitMissing) + "; exec cat -- " + q
	res, err := c.Run(ctx, Command{Line: line, Sudo: sudo}, nil)
	var xe *ExitError
	if errors.As(err, &xe) && xe.Code == exitMissing {
		return nil, fmt.Errorf("%s: %w", c.label, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist})
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return res.Stdout, nil
}

// Stat describes path.
func (c *Conn) Stat(ctx context.Context, path string, sudo bool) (FileInfo, error) {
	q := Quote(path)
	line := "[ -e " + q + " ] || exit " + strconv.Itoa(exitMissing) + "; exec stat -L -c '%f %u %g %s' -- " + q
	res, err := c.Run(ctx, Command{Line: line, Sudo: sudo}, nil)
	var xe *ExitError
	if errors.As(err, &xe) && xe.Code == exitMissing {
		return FileInfo{}, nil
	}
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat %s: %w", path, err)
	}
	f := strings.Fields(string(res.Stdout))
	if len(f) != 4 {
		return FileInfo{}, fmt.Errorf("%s: stat %s: unexpected output %q (is GNU coreutils installed?)", c.label, path, res.Stdout)
	}
	raw, err1 := strconv.ParseUint(f[0], 16, 32)
	uid, err2 := strconv.Atoi(f[1])
	gid, err3 := strconv.Atoi(f[2])
	size, err4 := strconv.ParseInt(f[3], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return FileInfo{}, fmt.Errorf("%s: stat %s: unexpected output %q: %v", c.label, path, res.Stdout, err)
	}
	return FileInfo{Exists: true, Mode: unixMode(uint32(raw)), UID: uid, GID: gid, Size: size}, nil
}

// unixMode converts st_mode to fs.FileMode.
func unixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	for bit, fm := range map[uint32]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
		if m&bit != 0 {
			mode |= fm
		}
	}
	switch m & 0o170000 {
	case 0o040000:
		mode |= fs.ModeDir
	case 0o120000:
		mode |= fs.ModeSymlink
	case 0o010000:
		mode |= fs.ModeNamedPipe
	case 0o140000:
		mode |= fs.ModeSocket
	case 0o020000:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		mode |= fs.ModeDevice
	}
	return mode
}

// writeScript replaces $1 atomically with stdin: temp file in the same
// directory, owner and mode set first, fsync, rename, fsync of the
// directory, and only if all $4 bytes arrived (a cut connection also ends
// stdin). A symlink is followed so the link stays a link. Prints the
// backup's path (or an empty line). The backup goes beside the file, or
// into $5 (a folder made 0700 if missing) under the file's flattened path.
//
// The temp file is born 0600 (umask 077) and gets its final owner and mode
// before the first byte is written: a secret is never readable by anyone
// who may not read the file it replaces. The final mode is $2 (or the old
// file's, or 0644 for a new file), and never wider than the old file's: an
// operator who narrowed a file keeps it narrow.
const writeScript = `set -e
umask 077
p=$1 mode=$2 stamp=$3 size=$4 bdir=$5
if [ -L "$p" ]; then p=$(readlink -f -- "$p"); fi
d=$(dirname -- "$p") b=$(basename -- "$p")
[ -d "$d" ] || { echo "aginstall: directory $d does not exist" >&2; exit 1; }
tmp=$(mktemp "$d/.$b.aginstall-XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
if [ -e "$p" ]; then
  old=$(stat -L -c %a -- "$p")
  [ "$mode" = keep ] && mode=$old
  mode=$(printf '%04o' $((0$mode & 0$old)))
  chown --reference="$p" -- "$tmp"
elif [ "$mode" = keep ]; then
  mode=0644
fi
chmod "$mode" -- "$tmp"
cat > "$tmp"
# EOF also comes when the connection is cut: only a complete copy goes on.
[ "$(stat -c %s -- "$tmp")" = "$size" ] || { echo "aginstall: only part of the new content arrived; $p is unchanged" >&2; exit 1; }
bak=
if [ -e "$p" ] && [ -n "$stamp" ]; then
  base=$p
  if [ -n "$bdir" ]; then
    mkdir -p -m 700 -- "$bdir"
    base=$bdir/$(printf '%s' "$p" | sed 's|^/||; s|/|_|g')
  fi
  bak="$base.aginstall-$stamp.bak" n=1
  while [ -e "$bak" ]; do bak="$base.aginstall-$stamp-$n.bak" n=$((n+1)); done
  cp -p -- "$p" "$bak"
fi
sync -- "$tmp" 2>/dev/null || sync
mv -f -- "$tmp" "$p"
trap - EXIT
sync -- "$d" 2>/dev/null || true
printf '%s\n' "$bak"
`

// WriteFile replaces path with data atomically (see writeScript). data
// travels on stdin, never in argv. Returns the backup's path if one was made.
func (c *Conn) WriteFile(ctx context.Context, path string, data []byte, opt WriteOptions) (backup string, err error) {
	mode := "keep"
	if opt.Mode != 0 {
		m := uint32(opt.Mode.Perm())
		if opt.Mode&fs.ModeSetuid != 0 {
			m |= 0o4000
		}
		if opt.Mode&fs.ModeSetgid != 0 {
			m |= 0o2000
		}
		if opt.Mode&fs.ModeSticky != 0 {
			m |= 0o1000
		}
		mode = fmt.Sprintf("%04o", m)
	}
	stamp := ""
	if opt.Backup {
		stamp = time.Now().UTC().Format("20060102T150405Z")
	}
	line := Quote("sh", "-c", writeScript, "aginstall-write", path, mode, stamp, strconv.Itoa(len(data)), opt.BackupDir)
	res, err := c.Run(ctx, Command{Line: line, Sudo: opt.Sudo, Stdin: data}, nil)
	if err != nil {
		var xe *ExitError
		if errors.As(err, &xe) {
			xe.Command = "write " + path // the script itself says nothing to the operator
			hint := ""
			if !opt.Sudo {
				hint = " (if this is a permission problem, the step must write it with sudo)"
			}
			return "", fmt.Errorf("writing %s%s: %w", path, hint, xe)
		}
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return strings.TrimSpace(string(res.Stdout)), nil
}
