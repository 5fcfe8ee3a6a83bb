package steps

import (
	"context"
	"errors"
	"sync"
)

// reviewMemo shares read-only answers between the checks of one review,
// where nothing changes between two checks. Apply never has one: there a
// step's own Apply may change what a later check reads.
type reviewMemo struct {
	djangoOnce sync.Once
	django     AdminResult
	djangoErr  error
}

// djangoState asks Django, once per review, both the migrate step's question
// (are migrations unapplied?) and the admin step's (do the superuser and
// course exist?): each question alone is a Django start-up, about a third
// of a second. The exec is recorded under the step that asks first.
func (m *reviewMemo) djangoState(ctx context.Context, env *Env, d siteDjango, step string) (AdminResult, error) {
	m.djangoOnce.Do(func() {
		m.django, m.djangoErr = adminExec(ctx, env, d, step, "check", true)
		if m.djangoErr == nil && m.django.PendingMigrations == nil {
			m.djangoErr = errors.New("create_admin.py did not say whether migrations are unapplied")
		}
	})
	return m.django, m.djangoErr
}
