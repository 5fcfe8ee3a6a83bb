package steps

import (
	"context"
	"sync"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// reviewMemo shares read-only answers between the checks of one review,
// where nothing changes between two checks. Apply never has one: there a
// step's own Apply may change what a later check reads.
type reviewMemo struct {
	djangoOnce sync.Once
	django     AdminResult
	djangoErr  error
	// discovered is closed when discovery's check has ended (nil: no
	// discovery in this review); see reviewWithDiscovery.
	discovered chan struct{}

	mu    sync.Mutex
	infos map[string]*engineInfoOnce // by host
	found map[string]discoveredHost  // by host: what discovery read there
}

// discoveredHost is what this review's discovery read on one host that a
// later check takes instead of asking the host again.
type discoveredHost struct {
	limitsConf carriedFile // /etc/security/limits.conf, when the user may read it
	noDocker   bool        // neither an engine nor an installed dockerd
}

func (m *reviewMemo) setDiscovered(host string, f *Facts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.found == nil {
		m.found = map[string]discoveredHost{}
	}
	m.found[host] = discoveredHost{limitsConf: f.limitsConf, noDocker: f.Docker == ""}
}

// discoveredOn is what this review's discovery read on host, once discovery
// has ended; ok is false outside a review, without discovery, or when it
// did not reach the host (facts kept from an earlier run may be out of date).
func discoveredOn(ctx context.Context, env *Env, host string) (d discoveredHost, ok bool) {
	m := env.review
	if m == nil || m.discovered == nil {
		return d, false
	}
	m.waitDiscovery(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok = m.found[host]
	return d, ok
}

// foundWithoutDocker says whether this review's discovery reached host and
// found no Docker there.
func foundWithoutDocker(ctx context.Context, env *Env, host string) bool {
	d, ok := discoveredOn(ctx, env, host)
	return ok && d.noDocker
}

// limitsConf is limits.conf as this review's discovery read it on host
// (nil: there is none); ok is false when discovery could not say (see
// discoveredOn; or the file unreadable to the user).
func limitsConf(ctx context.Context, env *Env, host string) (data []byte, ok bool) {
	d, found := discoveredOn(ctx, env, host)
	if !found || !d.limitsConf.known() {
		return nil, false
	}
	return d.limitsConf.data, true
}

type engineInfoOnce struct {
	once sync.Once
	info system.Info
	err  error
}

// engineInfo reads a host's engine info: once per review, where discovery
// and the docker, swarm and labels checks all ask it (and each /info makes
// the engine run runc and docker-init to report their versions); every time
// outside one (env may then be nil). In a review the read is recorded under
// the step that asks first.
func engineInfo(ctx context.Context, env *Env, h *HostRunner) (system.Info, error) {
	read := func() (system.Info, error) {
		var info system.Info
		err := h.API(ctx, "read the Docker engine's info (version, swarm membership)", "Info()", false, func(ctx context.Context, c *client.Client) error {
			res, err := c.Info(ctx, client.InfoOptions{})
			info = res.Info
			return err
		})
		return info, err
	}
	if env == nil || env.review == nil {
		return read()
	}
	m := env.review
	m.mu.Lock()
	if m.infos == nil {
		m.infos = map[string]*engineInfoOnce{}
	}
	e := m.infos[h.Host]
	if e == nil {
		e = &engineInfoOnce{}
		m.infos[h.Host] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.info, e.err = read() })
	return e.info, e.err
}

// waitDiscovery waits, in a review whose discovery runs beside this check,
// until discovery has recorded the facts; at once otherwise (m may be nil).
func (m *reviewMemo) waitDiscovery(ctx context.Context) {
	if m == nil || m.discovered == nil {
		return
	}
	select {
	case <-m.discovered:
	case <-ctx.Done():
	}
}

// djangoState answers, once per review, both the migrate step's question
// (are migrations unapplied?) and the admin step's (do the superuser and
// course exist?): from the database's rows (django_rows.go), or else from
// one Django start-up, about a third of a second, for both. The reads are
// recorded under the step that asks first.
func (m *reviewMemo) djangoState(ctx context.Context, env *Env, d siteDjango, step string) (AdminResult, error) {
	m.djangoOnce.Do(func() {
		if r, ok := djangoRows(ctx, env, d, step); ok {
			m.django = r
			return
		}
		m.django, m.djangoErr = djangoAsk(ctx, env, d, step)
	})
	return m.django, m.djangoErr
}

// djangoState is the admin check's answer: the review's shared one, or
// outside a review the rows, or else Django (which then says what the
// image holds, for the next check).
func djangoState(ctx context.Context, env *Env, d siteDjango, step string) (AdminResult, error) {
	if env.review != nil {
		return env.review.djangoState(ctx, env, d, step)
	}
	if r, ok := djangoRows(ctx, env, d, step); ok {
		return r, nil
	}
	return djangoAsk(ctx, env, d, step)
}

// djangoRowsOnce is the migrate check's quick answer: the review's shared
// one, or outside a review the rows; ok is false when Django must be asked.
func djangoRowsOnce(ctx context.Context, env *Env, d siteDjango, step string) (AdminResult, bool) {
	if env.review != nil {
		r, err := env.review.djangoState(ctx, env, d, step)
		return r, err == nil
	}
	return djangoRows(ctx, env, d, step)
}
