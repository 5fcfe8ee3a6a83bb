package steps

import (
	"context"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
)

// stackListener starts the name of an 80/443 listener Docker says is the
// stack's own: foreignListeners lets it pass.
const stackListener = "the stack's service "

// nameListeners names the webserver hosts' 80/443 listeners the SSH user
// could not: to a sudo user, ss shows no process for root's sockets
// (docker-proxy, dockerd), so the stack an earlier run deployed would look
// like a foreign program and block every re-run. Docker knows who publishes
// a port: on the host, a running container's port binding (host-mode
// publishing: docker-proxy); on the manager, a service publishing it
// through the routing mesh (dockerd). Read-only API calls, made only when
// such a listener exists and the host's engine answers this user.
func nameListeners(ctx context.Context, env *Env, facts map[string]*Facts) {
	c := env.Cluster
	var mesh map[uint16]string // asked of the manager at most once
	for _, hs := range c.Hosts {
		f := facts[hs.Name]
		if f == nil || f.DockerAccess == "none" || !contains(hs.Labels, "webserver") || len(unnamedPorts(f.Ports8043)) == 0 {
			continue
		}
		owners := map[uint16]string{}
		_ = env.On("discover", hs.Name).API(ctx, "ask Docker which container publishes 80/443", "ContainerList", false, func(ctx context.Context, dc *client.Client) error {
			res, err := dc.ContainerList(ctx, client.ContainerListOptions{})
			if err != nil {
				return err
			}
			for _, ct := range res.Items {
				for _, p := range ct.Ports {
					if p.PublicPort == 80 || p.PublicPort == 443 {
						owners[p.PublicPort] = containerOwner(c, ct.Labels, ct.Names)
					}
				}
			}
			return nil
		})
		if m := facts[c.Manager]; m != nil && m.Swarm == "active" && m.DockerAccess != "none" && len(unnamedPorts(nameFrom(f.Ports8043, owners))) > 0 {
			if mesh == nil {
				mesh = stackMeshPorts(ctx, env)
			}
			for port, svc := range mesh {
				if owners[port] == "" {
					owners[port] = stackListener + svc + " (routing mesh)"
				}
			}
		}
		f.Ports8043 = nameFrom(f.Ports8043, owners)
	}
}

// containerOwner names a container: the stack's own service, another
// service, or the container's name.
func containerOwner(c *Cluster, labels map[string]string, names []string) string {
	svc := labels["com.docker.swarm.service.name"]
	if labels["com.docker.stack.namespace"] == c.Stack && svc != "" {
		return stackListener + svc + " (docker-proxy)"
	}
	if svc != "" {
		return "docker-proxy of service " + svc
	}
	if len(names) > 0 {
		return "docker-proxy of container " + strings.TrimPrefix(names[0], "/")
	}
	return "docker-proxy"
}

// stackMeshPorts lists the ports the stack's services publish through the
// routing mesh (the manager's view; empty when it cannot tell).
func stackMeshPorts(ctx context.Context, env *Env) map[uint16]string {
	c := env.Cluster
	out := map[uint16]string{}
	_ = env.On("discover", c.Manager).API(ctx, "ask the manager which of the stack's services publish 80/443", "ServiceList(label=com.docker.stack.namespace="+c.Stack+")", false,
		func(ctx context.Context, dc *client.Client) error {
			res, err := dc.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+c.Stack)})
			if err != nil {
				return err
			}
			for _, s := range res.Items {
				for _, p := range s.Endpoint.Ports {
					if (p.PublishedPort == 80 || p.PublishedPort == 443) && p.PublishMode == "ingress" {
						out[uint16(p.PublishedPort)] = s.Spec.Name
					}
				}
			}
			return nil
		})
	return out
}

// unnamedPorts lists the ports of listeners without a process name.
func unnamedPorts(listeners []string) []uint16 {
	var out []uint16
	for _, l := range listeners {
		if addr, proc, _ := strings.Cut(l, " "); proc == "" {
			out = append(out, listenerPort(addr))
		}
	}
	return out
}

// nameFrom gives unnamed listeners their owner's name when one is known.
func nameFrom(listeners []string, owners map[uint16]string) []string {
	out := make([]string, 0, len(listeners))
	for _, l := range listeners {
		addr, proc, _ := strings.Cut(l, " ")
		if who := owners[listenerPort(addr)]; proc == "" && who != "" {
			l = addr + " " + who
		}
		out = append(out, l)
	}
	return out
}

// listenerPort is the port of an ss local address (0.0.0.0:80, [::]:443, *:80).
func listenerPort(addr string) uint16 {
	i := strings.LastIndexByte(addr, ':')
	n, err := strconv.ParseUint(addr[i+1:], 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}
