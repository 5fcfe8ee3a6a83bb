package main

import (
	"context"
	"os"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/google/renameio/v2"

	"aginstall/remote"
	"aginstall/steps"
)

// backend is the wizard's door to the hosts: the UI calls it from tea.Cmds and
// gets steps' events back through the sink it passes.
type backend struct {
	o *options

	mu       sync.Mutex
	sess     *session
	sessPath string
	sudoPW   []byte
	sink     steps.Sink // the sink of the call in progress; events of the session go there
}

func newBackend(o *options) *backend { return &backend{o: o} }

func (b *backend) LoadCluster(path string) (*steps.Cluster, error) { return steps.LoadCluster(path) }

// SaveCluster writes the cluster file atomically. An existing file keeps the
// operator's comments where the wizard changed nothing: only new files are
// written from scratch.
func (b *backend) SaveCluster(path string, c *steps.Cluster) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := steps.ParseCluster(path, data); err != nil {
		return err
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := renameio.WriteFile(path, data, mode); err != nil {
		return err
	}
	b.reset()
	return nil
}

func (b *backend) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess != nil {
		b.sess.close()
		b.sess = nil
	}
}

// session opens (once per cluster file) the pool and engine. Host keys are
// the wizard's business (ScanHostKeys/AcceptHostKeys), so this open does not ask.
func (b *backend) session(ctx context.Context, c *steps.Cluster, sink steps.Sink) (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sink = sink
	if b.sess != nil && b.sessPath == c.Path {
		return b.sess, nil
	}
	if b.sess != nil {
		b.sess.close()
	}
	pool := remote.NewPool(steps.Targets(c), remote.Options{
		SSHConfigFile: b.o.sshConfig, KnownHostsFile: b.o.knownHosts,
		SudoPassword: func(host string) ([]byte, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.sudoPW == nil {
				return nil, errNeedSudo(host)
			}
			return b.sudoPW, nil
		},
	})
	env, err := steps.NewEnv(c, pool, func(e steps.Event) {
		b.mu.Lock()
		s := b.sink
		b.mu.Unlock()
		if s != nil {
			s(e)
		}
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	env.Limit = b.o.parallel
	env.AllowDataMove = b.o.allowDataMove
	env.Confirm = func(string) bool { return false } // the wizard asks on its own screens first
	b.sess = &session{cluster: c, pool: pool, env: env, engine: &steps.Engine{Steps: steps.All(), Env: env}}
	b.sessPath = c.Path
	return b.sess, nil
}

func (b *backend) TestConnections(ctx context.Context, c *steps.Cluster) []steps.HostCheck {
	s, err := b.session(ctx, c, nil)
	if err != nil {
		return hostChecks(c, steps.Unknown, err.Error())
	}
	out := make([]steps.HostCheck, len(c.Hosts))
	var wg sync.WaitGroup
	for i, h := range c.Hosts {
		wg.Add(1)
		go func(i int, name string) {
			defer wg.Done()
			out[i] = steps.HostCheck{Host: name, Status: steps.Done, Reason: "connected"}
			if _, err := s.pool.Conn(ctx, name); err != nil {
				out[i] = steps.HostCheck{Host: name, Status: steps.Unknown, Reason: err.Error(), Fix: "check the address, user and key in the cluster file"}
			}
		}(i, h.Name)
	}
	wg.Wait()
	return out
}

func hostChecks(c *steps.Cluster, st steps.Status, reason string) []steps.HostCheck {
	out := make([]steps.HostCheck, len(c.Hosts))
	for i, h := range c.Hosts {
		out[i] = steps.HostCheck{Host: h.Name, Status: st, Reason: reason}
	}
	return out
}

func (b *backend) ScanHostKeys(ctx context.Context, c *steps.Cluster) ([]remote.HostKey, error) {
	s, err := b.session(ctx, c, nil)
	if err != nil {
		return nil, err
	}
	return s.pool.ScanHostKeys(ctx)
}

func (b *backend) AcceptHostKeys(ctx context.Context, c *steps.Cluster, keys []remote.HostKey) error {
	s, err := b.session(ctx, c, nil)
	if err != nil {
		return err
	}
	if err := s.pool.AcceptHostKeys(keys); err != nil {
		return err
	}
	return pinKeys(c, keys)
}

func (b *backend) Steps() []steps.Step { return steps.All() }

func (b *backend) Facts(c *steps.Cluster) map[string]*steps.Facts {
	out := map[string]*steps.Facts{}
	b.mu.Lock()
	s := b.sess
	b.mu.Unlock()
	st := (*steps.State)(nil)
	if s != nil {
		st = s.env.State
	} else if loaded, err := steps.LoadState(c); err == nil {
		st = loaded
	}
	for _, h := range c.Hosts {
		if st != nil {
			out[h.Name] = st.FactsOf(h.Name)
		}
	}
	return out
}

func (b *backend) Review(ctx context.Context, c *steps.Cluster, sink steps.Sink) ([]steps.StepReport, error) {
	s, err := b.session(ctx, c, sink)
	if err != nil {
		return nil, err
	}
	return s.engine.Review(ctx), nil
}

func (b *backend) Plan(ctx context.Context, c *steps.Cluster, sink steps.Sink) ([]steps.Record, error) {
	s, err := b.session(ctx, c, sink)
	if err != nil {
		return nil, err
	}
	// A plan of its own runner, so apply's records are not mixed with it.
	r := s.env.Runner
	planEnv := *s.env
	planEnv.Runner = &steps.Runner{Dial: r.Dial, Sink: r.Sink, Log: r.Log, Secrets: r.Secrets}
	en := &steps.Engine{Steps: s.engine.Steps, Env: &planEnv}
	return en.Plan(ctx)
}

func (b *backend) ApplyStep(ctx context.Context, c *steps.Cluster, stepID string, sink steps.Sink) error {
	s, err := b.session(ctx, c, sink)
	if err != nil {
		return err
	}
	st, ok := steps.ByID(stepID)
	if !ok {
		return errUnknownStep(stepID)
	}
	return s.engine.ApplyStep(ctx, st)
}

func (b *backend) Skip(c *steps.Cluster, stepID, reason string) error {
	s, err := b.session(context.Background(), c, nil)
	if err != nil {
		return err
	}
	st, ok := steps.ByID(stepID)
	if !ok {
		return errUnknownStep(stepID)
	}
	return s.engine.Skip(st, reason)
}

func (b *backend) SudoPassword(pw []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sudoPW = append([]byte(nil), pw...)
}

func (b *backend) LogPath() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess == nil {
		return ""
	}
	return b.sess.env.Runner.Log.Path
}
