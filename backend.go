package main

import (
	"context"
	"errors"
	"sync"

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
	lock     *runLock   // held from the first change to a cluster (backend_lock.go)
	lockPath string
}

func newBackend(o *options) *backend { return &backend{o: o} }

func (b *backend) LoadCluster(path string) (*steps.Cluster, error) { return steps.LoadCluster(path) }

// SaveCluster writes the wizard's changes into the cluster file, only its
// keys and merged with any edit made outside (steps.SaveCluster). The next
// call opens a session on the cluster saved.
func (b *backend) SaveCluster(c *steps.Cluster) (steps.SaveResult, error) {
	res, err := steps.SaveCluster(c)
	if err == nil {
		b.reset()
	}
	return res, err
}

// RefreshCluster reads the cluster file again (steps.RefreshCluster).
func (b *backend) RefreshCluster(c *steps.Cluster) (steps.SaveResult, error) {
	return steps.RefreshCluster(c)
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
	// A session works on one cluster value: a re-read or a save makes a new
	// one, and the steps must see it.
	if b.sess != nil && b.sessPath == c.Path && b.sess.cluster == c {
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
			// The pool keeps its own copy (and clears that one when it
			// closes): the next session's pool gets the password again.
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
			_, err := s.pool.Conn(ctx, name)
			switch {
			case errors.Is(err, remote.ErrHostKeyUnknown):
				// Not a failure: the next screen (Host keys) is where it is confirmed.
				out[i] = steps.HostCheck{Host: name, Status: steps.Todo, Reason: "new host key: you confirm it on the next screen"}
			case errors.Is(err, remote.ErrHostKeyChanged):
				out[i] = steps.HostCheck{Host: name, Status: steps.Failed, Reason: err.Error(), Fix: "the next screen (Host keys) shows the old and new keys and how to check them"}
			case err != nil:
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
	if err := b.lockFor(c); err != nil {
		return err
	}
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
	if err := b.lockFor(c); err != nil {
		return err
	}
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
