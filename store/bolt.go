package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/meridian-gslb/meridian/store/model"
)

// ErrLocked is returned by OpenBolt when another process holds the data
// file.
var ErrLocked = errors.New("store: data file is locked by another process")

// DefaultLockTimeout is how long OpenBolt waits for the file lock when
// BoltOptions.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// BoltOptions configure OpenBolt. The zero value is the production setting.
type BoltOptions struct {
	// LockTimeout is how long to wait for another process to release the
	// data file before failing with ErrLocked. Zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// ReleaseEvery is how often the pages that reads mapped into the
	// process are given back (ReleasePages), when transactions ran since
	// the last time. Zero means DefaultReleaseEvery; negative, never.
	ReleaseEvery time.Duration
}

// Bolt is the default Store: one bbolt file in the data directory. One
// bucket per model.Kind holds the objects under their names; the meta
// bucket holds the schema version, the revision and sequences.
//
// Bolt is safe for concurrent use. Writers are serialized by bbolt; readers
// run in parallel with them.
type Bolt struct {
	db     *bolt.DB
	path   string
	closed atomic.Bool
	hub    watchHub
	txs    atomic.Int64  // transactions ended, for releaseLoop
	stop   chan struct{} // closed by Close: ends releaseLoop
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens the data file at path, creating it (mode 0600) and its
// directory if needed, and migrating an older schema. A file written by a
// newer Meridian is refused with ErrSchema and left untouched; a file held
// by another process is refused with ErrLocked after opts.LockTimeout.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	// Look before writing anything: a newer file must stay byte-for-byte
	// as it is, and bbolt may write while opening read-write.
	if err := probe(path, opts); err != nil {
		return nil, err
	}
	db, err := openDB(path, opts, false)
	if err != nil {
		return nil, err
	}
	if err := prepare(db, path); err != nil {
		_ = db.Close()
		return nil, err
	}
	b := &Bolt{db: db, path: path, stop: make(chan struct{})}
	b.hub.init()
	if opts.ReleaseEvery == 0 {
		opts.ReleaseEvery = DefaultReleaseEvery
	}
	if opts.ReleaseEvery > 0 {
		go b.releaseLoop(opts.ReleaseEvery, b.stop)
	}
	return b, nil
}

// Path returns the data file's path.
func (b *Bolt) Path() string { return b.path }

// View runs fn in a bbolt read transaction.
func (b *Bolt) View(ctx context.Context, fn func(Tx) error) error {
	if err := b.usable(ctx); err != nil {
		return err
	}
	defer b.txs.Add(1)
	err := b.db.View(func(btx *bolt.Tx) error {
		rev, err := readRevision(btx)
		if err != nil {
			return err
		}
		return fn(&boltTx{tx: btx, rev: rev})
	})
	return b.mapErr(err)
}

// Update runs fn in one bbolt write transaction. The transaction commits,
// as revision current+1, only when fn returns nil having called Put or
// Delete successfully, and ctx is still live; watchers are told after the
// commit. fn runs once. On error the revision returned is 0 and nothing
// was written.
func (b *Bolt) Update(ctx context.Context, fn func(Tx) error) (int64, error) {
	if err := b.usable(ctx); err != nil {
		return 0, err
	}
	defer b.txs.Add(1)
	btx, err := b.db.Begin(true)
	if err != nil {
		return 0, b.mapErr(err)
	}
	done := false
	defer func() {
		if !done { // fn failed, wrote nothing or panicked
			_ = btx.Rollback()
		}
	}()
	cur, err := readRevision(btx)
	if err != nil {
		return 0, err
	}
	tx := &boltTx{tx: btx, rev: cur + 1, writable: true}
	if err := fn(tx); err != nil {
		return 0, err
	}
	if !tx.wrote {
		return cur, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err // the caller gave up: do not commit behind its back
	}
	if err := btx.Bucket(metaBucket).Put(keyRevision, encodeUint(uint64(cur+1))); err != nil {
		return 0, fmt.Errorf("store: writing revision: %w", err)
	}
	for kind := range tx.kinds {
		if err := btx.Bucket(metaBucket).Put([]byte(kindRevPrefix+string(kind)), encodeUint(uint64(cur+1))); err != nil {
			return 0, fmt.Errorf("store: writing revision of %s: %w", kind, err)
		}
	}
	done = true
	if err := btx.Commit(); err != nil {
		return 0, fmt.Errorf("store: commit: %w", b.mapErr(err))
	}
	b.hub.notify(cur + 1)
	return cur + 1, nil
}

// Revision returns the current revision.
func (b *Bolt) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := b.View(ctx, func(tx Tx) error {
		rev = tx.Revision()
		return nil
	})
	return rev, err
}

// Watch returns a channel that receives the latest revision after commits;
// see Store.
func (b *Bolt) Watch(ctx context.Context) <-chan int64 {
	return b.hub.watch(ctx)
}

// Close closes every watch channel, waits for running transactions and
// closes the file. Later calls return ErrClosed.
func (b *Bolt) Close() error {
	if b.closed.Swap(true) {
		return ErrClosed
	}
	b.hub.close()
	close(b.stop)
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("store: closing %s: %w", b.path, err)
	}
	return nil
}

func (b *Bolt) usable(ctx context.Context) error {
	if b.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// mapErr turns bbolt's "not open" into ErrClosed: Close may win a race
// with a transaction that had passed the closed check.
func (b *Bolt) mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// On-disk layout of the meta bucket. Numbers are 8-byte big-endian.
var (
	metaBucket  = []byte("meta")
	keySchema   = []byte("schema")   // SchemaVersion of the layout
	keyRevision = []byte("revision") // store revision
	seqPrefix   = "seq/"             // + kind: last number of a sequence
)

func readRevision(btx *bolt.Tx) (int64, error) {
	m := btx.Bucket(metaBucket)
	if m == nil {
		return 0, errors.New("store: data file has no meta bucket")
	}
	v, err := decodeUint(m.Get(keyRevision))
	if err != nil {
		return 0, fmt.Errorf("store: reading revision: %w", err)
	}
	return int64(v), nil
}

func encodeUint(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

// decodeUint reads an 8-byte big-endian number; a missing value is 0.
func decodeUint(b []byte) (uint64, error) {
	switch len(b) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(b), nil
	}
	return 0, fmt.Errorf("corrupt number of %d bytes", len(b))
}

// bucketOf returns the bucket of kind, or an error naming an unknown kind.
func bucketOf(btx *bolt.Tx, kind model.Kind) (*bolt.Bucket, error) {
	if kind == "" || string(kind) == string(metaBucket) {
		return nil, fmt.Errorf("store: unknown kind %q", kind)
	}
	bk := btx.Bucket([]byte(kind))
	if bk == nil {
		return nil, fmt.Errorf("store: unknown kind %q", kind)
	}
	return bk, nil
}
