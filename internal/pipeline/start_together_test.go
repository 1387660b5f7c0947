package pipeline

import (
	"context"
	"sync"
	"testing"

	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/pgtest"
)

// TestNodesStartTogether: nodes that start at once on an empty PostgreSQL
// database (a deployment's first start) all come up: one creates the
// incident and queue tables while the others wait, then find them made.
func TestNodesStartTogether(t *testing.T) {
	ctx := context.Background()
	eng := engine(t)
	for range 5 {
		dsn := pgtest.Start(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				store, err := incident.OpenStore(ctx, dsn)
				if err != nil {
					t.Error(err)
					return
				}
				defer store.Close()
				if _, err := New(ctx, Deps{Store: store, Engine: eng, MirrorDir: t.TempDir()}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
}
