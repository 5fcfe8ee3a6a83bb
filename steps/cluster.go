package steps

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Cluster is the operator's cluster file (aginstall.yaml). It holds no secret:
// passwords are asked for at run time and generated secrets live only on the hosts.
type Cluster struct {
	Name    string     `yaml:"name"`
	Manager string     `yaml:"manager"`
	Stack   string     `yaml:"stack"`
	Hosts   []HostSpec `yaml:"hosts"`
	Docker  DockerSpec `yaml:"docker"`
	Source  SourceSpec `yaml:"source"`
	NFS     NFSSpec    `yaml:"nfs"`
	Swarm   SwarmSpec  `yaml:"swarm"`
	Tuning  TuningSpec `yaml:"tuning"`
	Site    SiteSpec   `yaml:"site"`
	Admin   AdminSpec  `yaml:"admin"`
	Path    string     `yaml:"-"` // where it was read from
	Raw     []byte     `yaml:"-"` // the bytes read, for comment-preserving pins
}

// HostSpec is one server of the swarm.
type HostSpec struct {
	Name     string   `yaml:"name"`
	Address  string   `yaml:"address"`
	Port     int      `yaml:"port"`
	User     string   `yaml:"user"`
	Identity string   `yaml:"identity"`
	Bastion  string   `yaml:"bastion"`
	HostKey  string   `yaml:"host_key"`
	Labels   []string `yaml:"labels"`
}

// DockerSpec says how the Docker step gets an engine onto each host.
type DockerSpec struct {
	Install string `yaml:"install"` // official | distro | skip
	// AptURL is Docker's apt repository for install: official, or a mirror
	// of it (hosts that cannot reach the internet); empty means Docker's own,
	// https://download.docker.com/linux/debian or .../ubuntu by the host's OS.
	AptURL string `yaml:"apt_url"`
	// AptKey is the http(s) URL of that repository's signing key (ASCII
	// armored), fetched by each host; empty means AptURL + "/gpg".
	AptKey string `yaml:"apt_key"`
}

// SourceSpec is the autograder-full-stack checkout on the manager.
type SourceSpec struct {
	Repo string `yaml:"repo"`
	Ref  string `yaml:"ref"`
	Path string `yaml:"path"`
	// AllowHTTP accepts a plain http:// repo (a lab, a mirror on a trusted network).
	AllowHTTP bool `yaml:"allow_http,omitempty"`
}

// NFSSpec says how the checkout reaches the other hosts.
type NFSSpec struct {
	Mode    string `yaml:"mode"`    // export | skip
	Clients string `yaml:"clients"` // cluster (default: only the cluster's addresses) | * (the guide's wide export)
}

// SwarmSpec holds the swarm's addresses and how services publish ports.
type SwarmSpec struct {
	AdvertiseAddress string `yaml:"advertise_address"`
	// PublishMode is "ingress" (the routing mesh, needs IPVS in the kernel) or
	// "host" (ports bound on the node that runs the task; works without IPVS).
	PublishMode string `yaml:"publish_mode"`
}

// TuningSpec is the guide's "other tweaks".
type TuningSpec struct {
	GunicornWorkers      int            `yaml:"gunicorn_workers"`
	CeleryConcurrency    map[string]int `yaml:"celery_concurrency"`
	ClientMaxBodySize    string         `yaml:"client_max_body_size"`
	MaxSubprocessTimeout int            `yaml:"max_subprocess_timeout"`
	SysadminContact      string         `yaml:"sysadmin_contact"`
}

// SiteSpec is what a real site needs that the guide leaves out.
type SiteSpec struct {
	Domain        string `yaml:"domain"`
	TLSCert       string `yaml:"tls_cert"`
	TLSKey        string `yaml:"tls_key"`
	PostgresImage string `yaml:"postgres_image"`
	OAuthSecrets  string `yaml:"oauth_secrets"`  // local path of the provider's client JSON
	OAuthProvider string `yaml:"oauth_provider"` // google | azure
}

// AdminSpec is the first course and its administrator.
type AdminSpec struct {
	Email  string `yaml:"email"`
	Course string `yaml:"course"`
}

// InputError is a refusal of the cluster file, before anything is touched.
// main exits 2 on it.
type InputError struct {
	File string
	Line int
	Path string // key path like hosts[1].port
	Msg  string
}

func (e *InputError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// InputErrors is every problem found in one file, so the operator fixes them in one go.
type InputErrors []*InputError

func (es InputErrors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// LoadCluster reads, checks and defaults a cluster file.
func LoadCluster(path string) (*Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &InputError{File: path, Msg: fmt.Sprintf("cannot read the cluster file: %v (create one with `aginstall` or copy the example in README.md)", errors.Unwrap(err))}
	}
	return ParseCluster(path, data)
}

// ParseCluster checks the keys against the known set (with line numbers), decodes,
// fills defaults and validates values.
func ParseCluster(path string, data []byte) (*Cluster, error) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(path, err)
	}
	if len(file.Docs) == 0 || file.Docs[0].Body == nil {
		return nil, &InputError{File: path, Msg: "the file is empty; see the cluster file reference in README.md"}
	}
	var errs InputErrors
	checkKeys(path, file.Docs[0].Body, reflect.TypeOf(Cluster{}), "", &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	var c Cluster
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
		return nil, yamlError(path, err)
	}
	c.Path, c.Raw = path, data
	c.defaults()
	lines := func(p string) int { return lineOf(file, p) }
	for _, e := range c.validate() {
		e.File = path
		e.Line = lines(e.Path)
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &c, nil
}

func yamlError(path string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		return &InputError{File: path, Line: ye.GetToken().Position.Line, Msg: ye.GetMessage()}
	}
	return &InputError{File: path, Msg: err.Error()}
}

// checkKeys walks the YAML mapping and refuses keys the struct does not have,
// naming the allowed ones: a misspelt key must never be silently ignored.
func checkKeys(file string, node ast.Node, t reflect.Type, at string, errs *InputErrors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n := node.(type) {
	case *ast.MappingNode:
		if t.Kind() == reflect.Map {
			for _, kv := range n.Values {
				checkKeys(file, kv.Value, t.Elem(), join(at, kv.Key.String()), errs)
			}
			return
		}
		if t.Kind() != reflect.Struct {
			*errs = append(*errs, &InputError{File: file, Line: n.GetToken().Position.Line, Path: at, Msg: fmt.Sprintf("expected %s, found a mapping", kindWord(t))})
			return
		}
		fields := yamlFields(t)
		for _, kv := range n.Values {
			key := kv.Key.String()
			ft, ok := fields[key]
			if !ok {
				*errs = append(*errs, &InputError{File: file, Line: kv.Key.GetToken().Position.Line, Path: join(at, key),
					Msg: fmt.Sprintf("unknown key %q%s; allowed here: %s", key, suggest(key, fields), strings.Join(sortedKeys(fields), ", "))})
				continue
			}
			checkKeys(file, kv.Value, ft, join(at, key), errs)
		}
	case *ast.SequenceNode:
		if t.Kind() != reflect.Slice {
			*errs = append(*errs, &InputError{File: file, Line: n.GetToken().Position.Line, Path: at, Msg: fmt.Sprintf("expected %s, found a list", kindWord(t))})
			return
		}
		for i, v := range n.Values {
			checkKeys(file, v, t.Elem(), fmt.Sprintf("%s[%d]", at, i), errs)
		}
	case *ast.CommentGroupNode, nil:
	default:
		if t.Kind() == reflect.Struct {
			*errs = append(*errs, &InputError{File: file, Line: node.GetToken().Position.Line, Path: at, Msg: "expected a mapping of keys (see README.md)"})
		}
	}
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func kindWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Int:
		return "a number"
	default:
		return "a " + t.Kind().String()
	}
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		m[name] = f.Type
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// suggest names the closest allowed key when the typo is small.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// lineOf finds the line of a key path like hosts[1].port, or of its nearest
// existing parent, so a value error points at the right line.
func lineOf(file *ast.File, p string) int {
	for p != "" {
		if n := findNode(file, "$."+p); n != nil {
			return n.GetToken().Position.Line
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// Host returns the host spec by name.
func (c *Cluster) Host(name string) (HostSpec, bool) {
	for _, h := range c.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return HostSpec{}, false
}

// HostNames lists the hosts in file order.
func (c *Cluster) HostNames() []string {
	names := make([]string, len(c.Hosts))
	for i, h := range c.Hosts {
		names[i] = h.Name
	}
	return names
}

// Workers lists every host but the manager.
func (c *Cluster) Workers() []string {
	var out []string
	for _, h := range c.Hosts {
		if h.Name != c.Manager {
			out = append(out, h.Name)
		}
	}
	return out
}

// StateDir is .aginstall beside the cluster file.
func (c *Cluster) StateDir() string {
	return filepath.Join(filepath.Dir(c.Path), ".aginstall")
}

// PinHostKey records an accepted host key in the cluster file, changing only
// that host's host_key line (or adding one below its name), so the operator's
// comments and layout stay as they wrote them.
func PinHostKey(data []byte, host, fingerprint string) ([]byte, error) {
	file, idx, err := locateHost(data, host, "pin the host key")
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	value := fmt.Sprintf("%q", fingerprint)
	if n := findNode(file, fmt.Sprintf("$.hosts[%d].host_key", idx)); n != nil {
		ln := n.GetToken().Position.Line - 1
		old := string(lines[ln])
		col := strings.Index(old, "host_key:") + len("host_key:")
		end := "\n"
		if !strings.HasSuffix(old, "\n") {
			end = ""
		}
		comment := strings.TrimSuffix(afterScalar(old[col:]), "\n")
		lines[ln] = []byte(old[:col] + " " + value + comment + end)
		return bytes.Join(lines, nil), nil
	}
	return insertBelowName(file, lines, idx, "host_key: "+value)
}

// locateHost parses the cluster file and finds the host's index in hosts.
func locateHost(data []byte, host, doing string) (*ast.File, int, error) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, 0, err
	}
	var c Cluster
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, 0, err
	}
	for i, h := range c.Hosts {
		if h.Name == host {
			return file, i, nil
		}
	}
	return nil, 0, fmt.Errorf("cannot %s: no host named %q in the cluster file", doing, host)
}

// insertBelowName adds one "key: value" line below hosts[idx]'s name line,
// at the name key's indentation.
func insertBelowName(file *ast.File, lines [][]byte, idx int, line string) ([]byte, error) {
	n := findNode(file, fmt.Sprintf("$.hosts[%d].name", idx))
	if n == nil {
		return nil, fmt.Errorf("hosts[%d] has no name line", idx)
	}
	ln := n.GetToken().Position.Line - 1
	nameLine := string(lines[ln])
	indent := strings.Repeat(" ", strings.Index(nameLine, "name:"))
	if !strings.HasSuffix(nameLine, "\n") {
		lines[ln] = []byte(nameLine + "\n")
	}
	out := append([][]byte{}, lines[:ln+1]...)
	out = append(out, []byte(indent+line+"\n"))
	out = append(out, lines[ln+1:]...)
	return bytes.Join(out, nil), nil
}

// afterScalar returns what follows the first scalar in s (spacing and a
// comment), so a replaced value keeps the operator's comment.
func afterScalar(s string) string {
	t := strings.TrimLeft(s, " ")
	if t == "" {
		return ""
	}
	if q := t[0]; q == '"' || q == '\'' {
		for i := 1; i < len(t); i++ {
			if t[i] == '\\' && q == '"' {
				i++
				continue
			}
			if t[i] == q {
				return t[i+1:]
			}
		}
		return ""
	}
	if i := strings.Index(t, " #"); i >= 0 {
		return t[i:]
	}
	return ""
}

func findNode(file *ast.File, path string) ast.Node {
	p, err := yaml.PathString(path)
	if err != nil {
		return nil
	}
	n, err := p.FilterFile(file)
	if err != nil {
		return nil
	}
	return n
}
