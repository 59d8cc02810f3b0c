package geo

import (
	"context"
	"time"
)

// DefaultWatchInterval is the poll interval of Watch when it is given a
// non-positive one.
const DefaultWatchInterval = 30 * time.Second

// Reload re-opens both database files now and, when both open and verify,
// swaps them in: lookups already running finish on the old readers, later
// ones use the new, none waits. On any error the loaded databases stay in
// use, the failure is logged and counted, and the error (naming the file)
// is returned.
func (d *DB) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	st, ids, err := openState(d.cityPath, d.asnPath, d.opts)
	if err != nil {
		d.failed, d.hasFailed = ids, true
		d.reloadFailures.Add(1)
		d.log.Error("geo: reload failed, keeping the loaded database", "err", err)
		return err
	}
	st.gen = d.state.Load().gen + 1
	d.state.Store(st)
	d.failed, d.hasFailed = [2]fileID{}, false
	if d.cache != nil {
		d.cache.purge()
	}
	d.reloads.Add(1)
	d.log.Info("geo: database reloaded", d.logAttrs(st)...)
	return nil
}

// Watch polls the database files every interval (DefaultWatchInterval if
// every <= 0) and reloads when one of them changed: another size,
// modification time or inode, as when geoipupdate writes a temporary file
// and renames it over the old one. A replacement that fails to load is not
// retried until it changes again. Watch blocks until ctx ends or the DB is
// closed; run it in its own goroutine.
func (d *DB) Watch(ctx context.Context, every time.Duration) {
	if d == nil {
		return
	}
	if every <= 0 {
		every = DefaultWatchInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !d.poll() {
				return
			}
		}
	}
}

// poll reloads if a file changed since it was loaded or last tried; it
// returns false once the DB is closed.
func (d *DB) poll() bool {
	cur := [2]fileID{statID(d.cityPath), statID(d.asnPath)}
	d.mu.Lock()
	closed, failed, hasFailed := d.closed, d.failed, d.hasFailed
	loaded := d.state.Load().ids
	d.mu.Unlock()
	if closed {
		return false
	}
	if sameIDs(cur, loaded) || (hasFailed && sameIDs(cur, failed)) {
		return true
	}
	_ = d.Reload() // logged and counted by Reload
	return true
}

func sameIDs(a, b [2]fileID) bool {
	return a[0].same(b[0]) && a[1].same(b[1])
}
