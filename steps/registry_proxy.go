package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// In host publish mode (no IPVS, no routing mesh) the registry's port 5000
// is bound only on the node labelled registry, so the stack's images,
// named 127.0.0.1:5000/..., cannot be pulled on any other node. A
// pull-through registry:2 on every other node, published on that node's own
// port 5000, forwards their pulls to the real registry.
const (
	registryProxyName  = "registry-proxy"
	registryProxyLabel = "aginstall.role"
)

// registryProxySpec is that global service, forwarding to registryAddr:5000.
func registryProxySpec(registryAddr string) swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: registryProxyName, Labels: map[string]string{registryProxyLabel: registryProxyName}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image: registryImage,
				Env:   []string{"REGISTRY_PROXY_REMOTEURL=http://" + registryAddr + ":5000"},
			},
			Placement: &swarm.Placement{Constraints: []string{"node.labels.registry != true"}},
		},
		Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{Protocol: "tcp", TargetPort: 5000, PublishedPort: 5000,
			PublishMode: swarm.PortConfigPublishModeHost}}},
	}
}

// registryProxyRead finds the registry node's address and the proxy service, if any.
func registryProxyRead(ctx context.Context, h *HostRunner) (addr string, have *swarm.Service, err error) {
	err = h.API(ctx, "find the registry node and the registry proxy", "NodeList, ServiceList(name="+registryProxyName+")", false,
		func(ctx context.Context, c *client.Client) error {
			nl, err := c.NodeList(ctx, client.NodeListOptions{})
			if err != nil {
				return err
			}
			for _, n := range nl.Items {
				if strings.EqualFold(n.Spec.Labels["registry"], "true") {
					addr = n.Status.Addr
				}
			}
			sl, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("name", registryProxyName)})
			for i, s := range sl.Items {
				if s.Spec.Name == registryProxyName {
					have = &sl.Items[i]
				}
			}
			return err
		})
	return addr, have, err
}

// registryProxyTodo says what the proxy needs, "" when it is right or not needed.
func registryProxyTodo(c *Cluster, addr string, have *swarm.Service) string {
	if c.Swarm.PublishMode != "host" {
		return ""
	}
	want := registryProxySpec(addr).TaskTemplate.ContainerSpec.Env[0]
	switch {
	case have == nil:
		return "the registry proxy (host publish mode: lets every node pull 127.0.0.1:5000 images) is not created yet"
	case have.Spec.TaskTemplate.ContainerSpec == nil || !slices.Contains(have.Spec.TaskTemplate.ContainerSpec.Env, want):
		return "the registry proxy does not point at the registry node (" + addr + ")"
	}
	return ""
}

// registryEnsureProxy creates or fixes the proxy in host publish mode.
func registryEnsureProxy(ctx context.Context, h *HostRunner, c *Cluster) error {
	if c.Swarm.PublishMode != "host" {
		return nil
	}
	addr, have, err := registryProxyRead(ctx, h)
	if err != nil && !h.DryRun() {
		return err
	}
	if addr == "" && !h.DryRun() {
		return &StepError{Step: h.Step, Host: h.Host, Purpose: "find the registry node", Err: errors.New("no node has the label registry"),
			Next: "the labels step puts the registry label on one node; run apply again"}
	}
	if registryProxyTodo(c, addr, have) == "" {
		return nil
	}
	if addr == "" {
		addr = "<address of the registry node>" // a plan before the swarm exists
	}
	spec := registryProxySpec(addr)
	if have == nil {
		return h.API(ctx, "create the registry proxy", fmt.Sprintf("ServiceCreate(Name=%s, Image=%s, Mode=global, Env=REGISTRY_PROXY_REMOTEURL=http://%s:5000, Publish=5000:5000/tcp mode host, Constraint=node.labels.registry != true)", registryProxyName, registryImage, addr), true,
			func(ctx context.Context, cl *client.Client) error {
				_, err := cl.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
				return err
			})
	}
	return h.API(ctx, "point the registry proxy at the registry node", fmt.Sprintf("ServiceUpdate(%s, Env=REGISTRY_PROXY_REMOTEURL=http://%s:5000)", registryProxyName, addr), true,
		func(ctx context.Context, cl *client.Client) error {
			_, err := cl.ServiceUpdate(ctx, have.ID, client.ServiceUpdateOptions{Version: have.Version, Spec: spec})
			return err
		})
}
