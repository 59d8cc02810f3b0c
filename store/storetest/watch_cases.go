package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// testWatch: a watcher hears the revision of each change, and nothing for
// an Update that wrote nothing.
func testWatch(t *testing.T, s store.Store) {
	ch := s.Watch(t.Context())
	for want := int64(1); want <= 3; want++ {
		rev := put(t, s, sample(model.KindRegion, int(want)))
		if got, ok := recv(t, ch); !ok || got != want || rev != want {
			t.Fatalf("change %d: watch gave %d (open %v), Update returned %d", want, got, ok, rev)
		}
	}
	update(t, s, func(tx store.Tx) error { return nil })
	put(t, s, sample(model.KindRegion, 9))
	if got, _ := recv(t, ch); got != 4 {
		t.Fatalf("after an empty Update and a write, watch gave %d, want 4", got)
	}
}

// testWatchCoalesces: a reader that does not keep up is not queued every
// revision; it ends with the newest one.
func testWatchCoalesces(t *testing.T, s store.Store) {
	ch := s.Watch(t.Context())
	if cap(ch) != 1 {
		t.Errorf("watch channel has capacity %d, want 1", cap(ch))
	}
	for i := range 5 {
		put(t, s, sample(model.KindRegion, i))
	}
	var got []int64
	for len(got) == 0 || got[len(got)-1] < 5 {
		v, ok := recv(t, ch)
		if !ok {
			t.Fatal("watch channel closed")
		}
		got = append(got, v)
	}
	if !slices.IsSorted(got) || len(got) > 2 || got[len(got)-1] != 5 {
		t.Fatalf("a slow reader received %v, want a short increasing list ending in 5", got)
	}
}

// testWatchCancel: the channel closes when the watcher's context ends, and
// other watchers go on.
func testWatchCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	ch := s.Watch(ctx)
	other := s.Watch(t.Context())
	put(t, s, sample(model.KindRegion, 0))
	cancel()
	waitClosed(t, ch)
	put(t, s, sample(model.KindRegion, 1))
	var last int64
	for last < 2 {
		v, ok := recv(t, other)
		if !ok {
			t.Fatal("cancelling one watcher closed another")
		}
		last = v
	}
	done, cancelDone := context.WithCancel(t.Context())
	cancelDone()
	waitClosed(t, s.Watch(done))
}

// testClose: Close closes the watch channels; after it every call fails
// with ErrClosed and Watch returns a closed channel.
func testClose(t *testing.T, s store.Store) {
	put(t, s, sample(model.KindRegion, 0))
	ch := s.Watch(t.Context())
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, ch)
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := s.Update(t.Context(), func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
	if err := s.View(t.Context(), func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("View after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Revision(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Revision after Close: %v, want ErrClosed", err)
	}
	waitClosed(t, s.Watch(t.Context()))
}

// testWatchersRaceClose: many watchers coming and going while writers
// commit and the store closes under them. Run with -race: no send on a
// closed channel, no data race, every channel ends closed.
func testWatchersRaceClose(t *testing.T, s store.Store) {
	const watchers, writers = 32, 4
	var wg sync.WaitGroup
	chans := make(chan (<-chan int64), watchers)
	for i := range watchers {
		ctx, cancel := context.WithCancel(t.Context())
		ch := s.Watch(ctx)
		chans <- ch
		wg.Go(func() {
			n := 0
			for range ch {
				if n++; i%2 == 0 && n == 2 {
					cancel() // half of them leave early
				}
			}
			cancel()
		})
	}
	close(chans)
	started := make(chan struct{}, writers)
	for w := range writers {
		wg.Go(func() {
			var once sync.Once
			signal := func() { once.Do(func() { started <- struct{}{} }) }
			defer signal()
			for i := 0; ; i++ {
				_, err := s.Update(t.Context(), func(tx store.Tx) error {
					return store.Put(tx, &model.Region{Name: fmt.Sprintf("w%d-%d", w, i)}, 0)
				})
				if i == 2 {
					signal()
				}
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Update during Close: %v, want success or ErrClosed", err)
					return
				}
			}
		})
	}
	for range writers {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait() // every reader saw its channel closed, every writer stopped
	for ch := range chans {
		waitClosed(t, ch)
	}
}

// testConcurrentUpdates: Updates from many goroutines all commit, each as
// its own revision, none lost.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	const goroutines, each = 16, 8
	revs := make(chan int64, goroutines*each)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				rev, err := s.Update(t.Context(), func(tx store.Tx) error {
					return store.Put(tx, &model.Region{Name: fmt.Sprintf("g%02d-%02d", g, i)}, 0)
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
				revs <- rev
			}
		})
	}
	wg.Wait()
	close(revs)
	var got []int64
	for r := range revs {
		got = append(got, r)
	}
	slices.Sort(got)
	for i, r := range got {
		if r != int64(i+1) {
			t.Fatalf("revisions returned %v, want each of 1..%d once", got, goroutines*each)
		}
	}
	if n := len(names(t, s, model.KindRegion)); n != goroutines*each || revision(t, s) != goroutines*each {
		t.Fatalf("%d regions at revision %d, want %d of each", n, revision(t, s), goroutines*each)
	}
}
