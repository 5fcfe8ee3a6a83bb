package steps

import (
	"context"

	"aginstall/remote"
)

// PoolDialer adapts a remote.Pool to the runner's Dialer.
type PoolDialer struct{ Pool *remote.Pool }

// Conn returns the host's one connection.
func (d PoolDialer) Conn(ctx context.Context, host string) (Conn, error) {
	c, err := d.Pool.Conn(ctx, host)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Targets turns the cluster's hosts into SSH targets.
func Targets(c *Cluster) []remote.Target {
	out := make([]remote.Target, len(c.Hosts))
	for i, h := range c.Hosts {
		out[i] = remote.Target{Name: h.Name, Address: h.Address, Port: h.Port, User: h.User,
			Identity: h.Identity, Bastion: h.Bastion, HostKey: h.HostKey}
	}
	return out
}

// NewEnv wires a cluster, its state, a log and a connection pool into an Env.
func NewEnv(c *Cluster, pool *remote.Pool, sink Sink) (*Env, error) {
	st, err := LoadState(c)
	if err != nil {
		return nil, err
	}
	secrets := &Secrets{}
	if pool != nil {
		pool.OnSecret(secrets.Add) // the sudo password, whatever its length
	}
	log, err := OpenLog(c.StateDir()+"/logs", c.Name, secrets)
	if err != nil {
		return nil, err
	}
	r := &Runner{Dial: PoolDialer{Pool: pool}, Sink: sink, Log: log, Secrets: secrets}
	return &Env{Cluster: c, Runner: r, State: st, Secrets: secrets, Limit: 8}, nil
}
