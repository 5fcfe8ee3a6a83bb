package steps

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/google/renameio/v2"
)

// The cluster file is the operator's. The wizard writes only the keys it
// changed, as splices of the file's own text (cluster_edit.go), and reads the
// file again before every write: a key the operator edited meanwhile is
// taken in, and one both changed is a conflict for the operator to settle.

// SaveResult says what a save or a re-read did.
type SaveResult struct {
	Cluster *Cluster // the cluster now: the file's values and the wizard's
	Taken   []string // keys edited outside the wizard since it read the file
	Wrote   []string // keys the wizard wrote
}

// Conflict is one key both the operator (in the file) and the wizard changed.
type Conflict struct {
	Key          string
	File, Wizard string // the values as YAML text ("" when absent)
}

// ConflictError: the file changed outside the wizard on keys the wizard
// changed too. Nothing was written; Resolve settles it.
type ConflictError struct {
	Path      string
	Conflicts []Conflict
	disk      []byte
	want      *Cluster
	ops       []keyChange
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s changed outside the wizard on keys the wizard changed too:", e.Path)
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  %s: the file has %s, the wizard has %s", c.Key, orNone(c.File), orNone(c.Wizard))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// Resolve settles a conflict: keepFile takes the file's values for the
// conflicting keys, otherwise the wizard's values go over them. The result
// is the cluster to save next: the file as it is now plus the wizard's other
// changes, still pending.
func (e *ConflictError) Resolve(keepFile bool) (*Cluster, error) {
	skip := map[string]bool{}
	if keepFile {
		for _, c := range e.Conflicts {
			skip[c.Key] = true
		}
	}
	var ops []keyChange
	for _, op := range e.ops {
		if !skip[op.key] && !skip[hostKeyOf(op.key)] {
			ops = append(ops, op)
		}
	}
	merged, err := applyChanges(e.disk, e.want, ops)
	if err != nil {
		return nil, err
	}
	c, err := ParseCluster(e.Path, merged)
	if err != nil {
		return nil, err
	}
	c.Raw = e.disk
	return c, nil
}

// keyChange is one key the wizard changed: its new value (nil: left out).
type keyChange struct {
	key   string
	value any
}

// flatten lists a cluster's keys and values, zero values left out. Hosts
// are keyed by name: hosts[node2].labels, and hosts[node2] for the host.
func flatten(c *Cluster) map[string]any {
	out := map[string]any{}
	if c != nil {
		flattenStruct(reflect.ValueOf(*c), "", out)
	}
	return out
}

func flattenStruct(v reflect.Value, at string, out map[string]any) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		f, p := v.Field(i), join(at, name)
		switch f.Kind() {
		case reflect.Struct:
			flattenStruct(f, p, out)
		case reflect.Map:
			for _, k := range f.MapKeys() {
				if val := f.MapIndex(k); !val.IsZero() {
					out[p+"."+k.String()] = val.Interface()
				}
			}
		case reflect.Slice:
			if hosts, ok := f.Interface().([]HostSpec); ok {
				for _, h := range hosts {
					hp := fmt.Sprintf("%s[%s]", p, h.Name)
					out[hp] = true
					flattenStruct(reflect.ValueOf(h), hp, out)
				}
				continue
			}
			if f.Len() > 0 {
				out[p] = f.Interface()
			}
		default:
			if !f.IsZero() {
				out[p] = f.Interface()
			}
		}
	}
}

// hostKeyOf is hosts[NAME] for a key under a host, else "".
func hostKeyOf(key string) string {
	if strings.HasPrefix(key, "hosts[") {
		if i := strings.Index(key, "]"); i > 0 {
			return key[:i+1]
		}
	}
	return ""
}

// changes lists what differs from base to want, in key order.
func changes(base, want map[string]any) []keyChange {
	var out []keyChange
	for _, k := range unionKeys(base, want) {
		if !reflect.DeepEqual(base[k], want[k]) {
			out = append(out, keyChange{k, want[k]})
		}
	}
	return out
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// parseBase is the cluster as the wizard read it (its Raw), or an empty one.
func parseBase(c *Cluster) *Cluster {
	if len(c.Raw) == 0 {
		return &Cluster{}
	}
	base, err := ParseCluster(c.Path, c.Raw)
	if err != nil {
		return &Cluster{}
	}
	return base
}

// merge compares the file on disk with what the wizard read and what it
// wants: the wizard's changes, the keys taken from an outside edit, and the
// conflicts. disk is nil when there is no file.
func merge(c *Cluster) (disk []byte, ops []keyChange, taken []string, conflicts []Conflict, err error) {
	disk, err = os.ReadFile(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, changes(map[string]any{}, flatten(c)), nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	baseFlat, wantFlat := flatten(parseBase(c)), flatten(c)
	ops = changes(baseFlat, wantFlat)
	if bytes.Equal(disk, c.Raw) {
		return disk, ops, nil, nil, nil
	}
	now, err := ParseCluster(c.Path, disk)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%s changed outside the wizard and does not read now; fix it, then try again:\n%w", c.Path, err)
	}
	diskFlat := flatten(now)
	outside := map[string]bool{}
	for _, ch := range changes(baseFlat, diskFlat) {
		outside[ch.key] = true
		if h := hostKeyOf(ch.key); h != "" {
			outside[h] = true
		}
		if !reflect.DeepEqual(ch.value, wantFlat[ch.key]) {
			taken = append(taken, ch.key) // news to the wizard
		}
	}
	var keep []keyChange
	for _, op := range ops {
		if reflect.DeepEqual(diskFlat[op.key], op.value) {
			continue // the file says it already
		}
		if outside[op.key] || (op.key == hostKeyOf(op.key) && outside[op.key]) {
			conflicts = append(conflicts, Conflict{Key: op.key, File: valueText(diskFlat[op.key]), Wizard: valueText(op.value)})
		}
		keep = append(keep, op)
	}
	return disk, keep, taken, conflicts, nil
}

func valueText(v any) string {
	switch v.(type) {
	case nil:
		return ""
	case bool:
		return "present"
	}
	return renderYAML(v, nil)
}

// applyChanges writes ops into the file's text: hosts removed, hosts added,
// then every other key set or left out. The result must read back as the
// file's values with exactly those keys changed.
func applyChanges(disk []byte, want *Cluster, ops []keyChange) ([]byte, error) {
	d, err := parseDoc(disk)
	if err != nil {
		return nil, err
	}
	hostOp := map[string]bool{}
	for _, op := range ops {
		if h := hostKeyOf(op.key); h != "" && h == op.key {
			hostOp[h] = true
			name := strings.TrimSuffix(strings.TrimPrefix(h, "hosts["), "]")
			if op.value == nil {
				d, err = d.removeHost(name)
			} else if spec, ok := want.Host(name); ok {
				d, err = d.addHost(spec)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	for _, op := range ops {
		if h := hostKeyOf(op.key); h != "" && hostOp[h] {
			continue
		}
		if op.value == nil {
			d, err = d.deleteKey(op.key)
		} else {
			d, err = d.setKey(op.key, op.value)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot write %s into the cluster file: %w", op.key, err)
		}
	}
	return d.src, nil
}

// verify checks that out reads as disk with exactly the ops applied.
func verify(path string, disk, out []byte, ops []keyChange) error {
	before, err := ParseCluster(path, disk)
	if err != nil {
		return err
	}
	after, err := ParseCluster(path, out)
	if err != nil {
		return err
	}
	want := flatten(before)
	for _, op := range ops {
		if op.value == nil {
			delete(want, op.key)
			if h := hostKeyOf(op.key); h == op.key {
				for k := range want {
					if strings.HasPrefix(k, h+".") {
						delete(want, k)
					}
				}
			}
		} else {
			want[op.key] = op.value
		}
	}
	got := flatten(after)
	for _, k := range unionKeys(want, got) {
		if !reflect.DeepEqual(want[k], got[k]) && !defaulted(before, k) {
			return fmt.Errorf("internal error: writing the cluster file would make %s %s instead of %s; nothing was written", k, orNone(valueText(got[k])), orNone(valueText(want[k])))
		}
	}
	return nil
}

// defaulted: keys whose absence reads as a default (a host's address is its
// name, the manager the first host, ...): left out, they read back filled in.
func defaulted(_ *Cluster, key string) bool {
	switch {
	case strings.HasSuffix(key, ".address"), key == "manager", key == "stack",
		key == "docker.install", key == "source.repo", key == "source.ref", key == "nfs.mode",
		key == "nfs.clients", key == "swarm.publish_mode", key == "site.oauth_provider":
		return true
	}
	return false
}

// SaveCluster writes the wizard's changes into the cluster file: only the
// keys it changed, after reading the file again. An edit made outside the
// wizard meanwhile is kept (and listed in Taken); a key both changed is a
// *ConflictError and nothing is written. A new file is written whole, zero
// values left out.
func SaveCluster(c *Cluster) (SaveResult, error) {
	disk, ops, taken, conflicts, err := merge(c)
	if err != nil {
		return SaveResult{}, err
	}
	if len(conflicts) > 0 {
		return SaveResult{}, &ConflictError{Path: c.Path, Conflicts: conflicts, disk: disk, want: c, ops: ops}
	}
	var out []byte
	if disk == nil {
		out = newClusterFile(c)
	} else if out, err = applyChanges(disk, c, ops); err != nil {
		return SaveResult{}, err
	}
	back, err := ParseCluster(c.Path, out)
	if err != nil {
		return SaveResult{}, err
	}
	if disk != nil {
		if err := verify(c.Path, disk, out, ops); err != nil {
			return SaveResult{}, err
		}
	}
	if !bytes.Equal(out, disk) {
		if err := writeAtomic(c.Path, out); err != nil {
			return SaveResult{}, err
		}
	}
	res := SaveResult{Cluster: back, Taken: taken}
	for _, op := range ops {
		res.Wrote = append(res.Wrote, op.key)
	}
	return res, nil
}

// RefreshCluster reads the file again: when it changed outside the wizard,
// the result is the file's values with the wizard's pending changes on top
// (still pending: nothing is written), and Taken lists the outside edits.
func RefreshCluster(c *Cluster) (SaveResult, error) {
	disk, ops, taken, conflicts, err := merge(c)
	if err != nil {
		return SaveResult{}, err
	}
	if disk == nil || bytes.Equal(disk, c.Raw) {
		return SaveResult{Cluster: c}, nil
	}
	if len(conflicts) > 0 {
		return SaveResult{}, &ConflictError{Path: c.Path, Conflicts: conflicts, disk: disk, want: c, ops: ops}
	}
	merged, err := applyChanges(disk, c, ops)
	if err != nil {
		return SaveResult{}, err
	}
	back, err := ParseCluster(c.Path, merged)
	if err != nil {
		return SaveResult{}, err
	}
	back.Raw = disk
	return SaveResult{Cluster: back, Taken: taken}, nil
}

// EditClusterFile applies a targeted text edit (a pinned host key, recorded
// labels) to the file as it is on disk now, so an outside edit is kept, and
// writes it atomically. c is not changed: its Raw stays what the caller
// read, and the caller sets the values it wrote (the wizard's next save then
// finds them in the file already).
func EditClusterFile(c *Cluster, edit func([]byte) ([]byte, error)) error {
	data, err := os.ReadFile(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = c.Raw, nil
	}
	if err != nil {
		return err
	}
	out, err := edit(data)
	if err != nil {
		return err
	}
	if _, err := ParseCluster(c.Path, out); err != nil {
		return err
	}
	return writeAtomic(c.Path, out)
}

// PinHostKeys records accepted fingerprints (host → SHA256:…) in the file.
func PinHostKeys(c *Cluster, pins map[string]string) error {
	if len(pins) == 0 {
		return nil
	}
	return EditClusterFile(c, func(data []byte) ([]byte, error) {
		for _, host := range sortedKeys(pins) {
			var err error
			if data, err = PinHostKey(data, host, pins[host]); err != nil {
				return nil, err
			}
		}
		return data, nil
	})
}

// writeAtomic replaces the file atomically, keeping its mode (600 when new).
func writeAtomic(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := renameio.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// newClusterFile writes a whole cluster file, sections in the struct's
// order, zero values left out.
func newClusterFile(c *Cluster) []byte {
	var b strings.Builder
	b.WriteString("# aginstall cluster file: the servers and choices of this install (README.md has every key).\n")
	v := reflect.ValueOf(*c)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		f := v.Field(i)
		if name == "" || name == "-" || f.IsZero() {
			continue
		}
		switch val := f.Interface().(type) {
		case []HostSpec:
			var items []orderedMap
			for _, h := range val {
				items = append(items, hostFields(h))
			}
			b.WriteString(name + ":" + renderBlock(items, "  ") + "\n")
		default:
			if f.Kind() == reflect.Struct {
				m := structMap(f)
				if len(m) == 0 {
					continue
				}
				b.WriteString(name + ":" + renderBlock(m, "  ") + "\n")
				continue
			}
			b.WriteString(name + ":" + renderBlock(val, "  ") + "\n")
		}
	}
	return []byte(b.String())
}

func structMap(v reflect.Value) orderedMap {
	var out orderedMap
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		f := v.Field(i)
		if name == "" || name == "-" || f.IsZero() || f.Kind() == reflect.Map && f.Len() == 0 {
			continue
		}
		out = append(out, struct {
			key   string
			value any
		}{name, f.Interface()})
	}
	return out
}
