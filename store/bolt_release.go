package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultReleaseEvery is how often an open Bolt gives back the pages of
// its file that reads mapped into the process, when BoltOptions leave it
// zero.
const DefaultReleaseEvery = 10 * time.Second

// ReleasePages drops the process's mapping of the data file's pages. bbolt
// reads through a shared read-only mapping of the file, and every page a
// read touches stays mapped, counted in the process's RSS: a scan of the
// whole file, such as the pruner reading the event log or a snapshot
// build reading every service, leaves all of it there (165 MiB of a
// 100,000-service file). The pages stay in the kernel's page cache, and a
// later read maps back the ones it needs, at the cost of a minor fault
// each. The data itself is never affected: the mapping is of the file,
// and bbolt writes with write(2), not through it.
//
// It runs inside a read transaction, which keeps bbolt from remapping
// the file meanwhile. It does nothing where madvise(MADV_DONTNEED) is not
// available (releasePages).
func (b *Bolt) ReleasePages() error {
	if b.closed.Load() {
		return ErrClosed
	}
	err := b.db.View(func(btx *bolt.Tx) error {
		return releasePages(b.db.Info().Data, btx.Size())
	})
	return b.mapErr(err)
}

// releaseLoop calls ReleasePages every interval in which a transaction
// ran, until stop is closed.
func (b *Bolt) releaseLoop(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	var seen int64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if n := b.txs.Load(); n != seen {
			seen = n
			_ = b.ReleasePages() // only ErrClosed, when closing
		}
	}
}
