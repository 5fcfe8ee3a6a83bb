package edit

import (
	"fmt"
	"strings"
)

// endpointDNSRR sets `endpoint_mode: dnsrr` in every service's deploy block.
// It goes with host publish mode: a kernel without IPVS has no routing mesh
// AND no service virtual IPs, so `django:8000` from nginx only resolves to a
// task when the service name is a DNS round-robin name (measured in the lab:
// with VIPs every service is 1/1 but nginx gets "No route to host").
// Services without a deploy block are left alone (upstream has none).
func endpointDNSRR(t *text, d *yamlDoc) error {
	for _, svc := range d.services() {
		name := keyText(svc)
		deploys := own(d.mapping(svc.Value), "deploy")
		if len(deploys) == 0 {
			continue
		}
		dm := d.mapping(deploys[len(deploys)-1].Value)
		if dm == nil || dm.IsFlowStyle || len(dm.Values) == 0 {
			return t.missing(fmt.Sprintf("block-style deploy: of service %q", name), "deploy: followed by indented keys")
		}
		if modes := own(dm, "endpoint_mode"); len(modes) > 0 {
			ln, v, ok := inlineScalar(modes[len(modes)-1])
			if !ok {
				return t.missing(fmt.Sprintf("one-line endpoint_mode: in service %q", name), "endpoint_mode: vip|dnsrr")
			}
			if v == "dnsrr" {
				continue
			}
			sm := yamlScalarRe.FindStringSubmatch(t.lines[ln-1].s)
			if sm == nil {
				return t.missing(fmt.Sprintf("one-line endpoint_mode: in service %q", name), fmt.Sprintf("line %d as endpoint_mode: VALUE", ln))
			}
			t.set(ln, sm[1]+"dnsrr"+sm[3], "endpoint mode "+name)
			continue
		}
		first := dm.Values[0].Key.GetToken().Position
		ln := first.Line
		if ln < 1 || ln > len(t.lines) {
			return fmt.Errorf("%s: the deploy block of service %q is out of the file (bug in aginstall)", t.file, name)
		}
		t.set(ln, strings.Repeat(" ", first.Column-1)+"endpoint_mode: dnsrr\n"+t.lines[ln-1].s, "endpoint mode "+name)
	}
	return nil
}

// checkDNSRR: every service with a deploy block resolves by DNS round robin.
func checkDNSRR(d *yamlDoc) error {
	for _, svc := range d.services() {
		deploy := d.mapping(d.lookup(d.mapping(svc.Value), "deploy"))
		if deploy == nil {
			continue
		}
		if v, _ := scalarText(d.lookup(deploy, "endpoint_mode")); v != "dnsrr" {
			return fmt.Errorf("service %q has no endpoint_mode: dnsrr", keyText(svc))
		}
	}
	return nil
}
