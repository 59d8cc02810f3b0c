package storetest

import (
	"context"
	"sync"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Counting wraps a Store and counts the List calls per kind made in its
// transactions, for tests that a reader does not read a kind again when
// nothing of it changed. The transactions it hands out keep the optional
// abilities of the wrapped ones (sequences, kind revisions).
type Counting struct {
	store.Store
	mu    sync.Mutex
	lists map[model.Kind]int
}

// Lists returns how many times kind was listed.
func (c *Counting) Lists(kind model.Kind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists[kind]
}

func (c *Counting) View(ctx context.Context, fn func(store.Tx) error) error {
	return c.Store.View(ctx, func(tx store.Tx) error { return fn(countingTx{tx, c}) })
}

func (c *Counting) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	return c.Store.Update(ctx, func(tx store.Tx) error { return fn(countingTx{tx, c}) })
}

type countingTx struct {
	store.Tx
	c *Counting
}

func (t countingTx) List(kind model.Kind, after string, limit int, fn func(string, []byte) error) error {
	t.c.mu.Lock()
	if t.c.lists == nil {
		t.c.lists = map[model.Kind]int{}
	}
	t.c.lists[kind]++
	t.c.mu.Unlock()
	return t.Tx.List(kind, after, limit, fn)
}

func (t countingTx) KindRevision(kind model.Kind) (int64, bool) {
	return store.KindRevision(t.Tx, kind)
}

func (t countingTx) NextSequence(kind model.Kind) (int64, error) {
	return t.Tx.(store.Sequencer).NextSequence(kind)
}
