package edit

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Short port syntax that has a long-syntax equivalent: [PUBLISHED:]TARGET[/PROTOCOL].
var shortPortRe = regexp.MustCompile(`^(\d{1,5}):(\d{1,5})(?:/(tcp|udp|sctp))?$`)

// A block sequence entry on one line: indentation, "-", spaces, the scalar,
// an optional comment.
var seqEntryRe = regexp.MustCompile(`^(\s*)-([ \t]+)('[^']*'|"[^"\\]*"|[^'"#\s]+)([ \t]*(?:#.*)?)$`)

// portsHostMode rewrites every service's short-syntax ports entries
//
//   - "80:80"          into   - target: 80
//     published: 80
//     protocol: tcp
//     mode: host
//
// (swarm's ingress routing mesh needs IPVS, which some kernels lack; host
// mode publishes on the node running the task). Long-syntax entries get
// `mode: host` (set, or added as their last line). Comments stay: a line
// comment moves to the entry's first line, other comment lines are untouched.
func portsHostMode(t *text, d *yamlDoc) error {
	for _, svc := range d.services() {
		m := d.mapping(svc.Value)
		ports := own(m, "ports")
		if len(ports) == 0 {
			continue
		}
		name := keyText(svc)
		seq, ok := d.resolve(ports[len(ports)-1].Value).(*ast.SequenceNode)
		if !ok || seq.IsFlowStyle || len(ports) > 1 {
			return t.missing(fmt.Sprintf("block list of ports in service %q", name), `"ports:" followed by "- ..." lines`)
		}
		for _, e := range seq.Values {
			var err error
			if em, ok := d.resolve(e).(*ast.MappingNode); ok {
				err = longPortHostMode(t, name, em)
			} else {
				err = shortPortHostMode(t, name, e)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func shortPortHostMode(t *text, svc string, e ast.Node) error {
	v, ok := scalarText(e)
	ln := e.GetToken().Position.Line
	if !ok || ln < 1 || ln > len(t.lines) {
		return fmt.Errorf("%s: a ports entry of service %q is neither a string nor a mapping", t.file, svc)
	}
	pm := shortPortRe.FindStringSubmatch(v)
	if pm == nil {
		return fmt.Errorf("%s:%d: port %q of service %q cannot be written in host mode: only \"PUBLISHED:TARGET[/PROTOCOL]\" with single ports is supported; rewrite it by hand", t.file, ln, v, svc)
	}
	lm := seqEntryRe.FindStringSubmatch(t.lines[ln-1].s)
	if lm == nil || strings.Trim(lm[3], `'"`) != v {
		return t.missing(fmt.Sprintf("one-line ports entry %q in service %q", v, svc), fmt.Sprintf(`line %d as - "PUBLISHED:TARGET"`, ln))
	}
	proto := pm[3]
	if proto == "" {
		proto = "tcp"
	}
	in := lm[1] + strings.Repeat(" ", 1+len(lm[2]))
	t.set(ln, lm[1]+"-"+lm[2]+"target: "+pm[2]+lm[4]+"\n"+
		in+"published: "+pm[1]+"\n"+
		in+"protocol: "+proto+"\n"+
		in+"mode: host", "ports host mode "+svc)
	return nil
}

func longPortHostMode(t *text, svc string, m *ast.MappingNode) error {
	if modes := own(m, "mode"); len(modes) > 0 {
		ln, v, ok := inlineScalar(modes[len(modes)-1])
		if !ok {
			return t.missing(fmt.Sprintf("one-line mode: of a ports entry in service %q", svc), "mode: host|ingress")
		}
		if v == "host" {
			return nil
		}
		l := t.lines[ln-1].s
		sm := yamlScalarRe.FindStringSubmatch(l)
		if sm == nil {
			return t.missing(fmt.Sprintf("one-line mode: of a ports entry in service %q", svc), fmt.Sprintf("line %d as mode: VALUE", ln))
		}
		t.set(ln, sm[1]+"host"+sm[3], "ports host mode "+svc)
		return nil
	}
	if m.IsFlowStyle || len(m.Values) == 0 {
		return t.missing(fmt.Sprintf("block-style ports entry in service %q", svc), "- target: N lines")
	}
	// Append after the entry's last line, at the column of its keys.
	first, last := m.Values[0], m.Values[len(m.Values)-1]
	ln, _, ok := inlineScalar(last)
	if !ok {
		return t.missing(fmt.Sprintf("one-line keys in a ports entry of service %q", svc), "target:, published:, protocol: lines")
	}
	col := first.Key.GetToken().Position.Column - 1
	t.set(ln, t.lines[ln-1].s+"\n"+strings.Repeat(" ", col)+"mode: host", "ports host mode "+svc)
	return nil
}

// checkHostPorts: every ports entry of every service is a mapping with mode: host.
func checkHostPorts(d *yamlDoc) error {
	for _, svc := range d.services() {
		own := own(d.mapping(svc.Value), "ports")
		if len(own) == 0 {
			continue
		}
		ports, ok := d.resolve(own[0].Value).(*ast.SequenceNode)
		if !ok {
			return fmt.Errorf("the ports of service %q are not a list", keyText(svc))
		}
		for _, e := range ports.Values {
			if v, _ := scalarText(d.lookup(d.mapping(e), "mode")); v != "host" {
				return fmt.Errorf("a ports entry of service %q is not in host mode", keyText(svc))
			}
		}
	}
	return nil
}
