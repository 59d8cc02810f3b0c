package store

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/meridian-gslb/meridian/store/model"
)

// errReadOnly is returned by writes in a View.
var errReadOnly = errors.New("store: write in a read-only transaction")

// boltTx is a Tx over a bbolt transaction. Values handed out are copies:
// bbolt's own slices point into the memory map and die with the
// transaction.
type boltTx struct {
	tx       *bolt.Tx
	rev      int64
	writable bool
	wrote    bool
	kinds    map[model.Kind]bool // written in this transaction
}

var _ KindRevisioner = (*boltTx)(nil)

func (t *boltTx) touch(kind model.Kind) {
	t.wrote = true
	if t.kinds == nil {
		t.kinds = map[model.Kind]bool{}
	}
	t.kinds[kind] = true
}

// KindRevision reads kind's revision from the meta bucket.
func (t *boltTx) KindRevision(kind model.Kind) (int64, bool) {
	if t.kinds[kind] {
		return 0, false
	}
	v, err := decodeUint(t.tx.Bucket(metaBucket).Get([]byte(kindRevPrefix + string(kind))))
	if err != nil {
		return 0, false
	}
	return int64(v), true
}

var _ Sequencer = (*boltTx)(nil)

func (t *boltTx) Revision() int64 { return t.rev }

func (t *boltTx) Get(kind model.Kind, name string) ([]byte, error) {
	bk, err := bucketOf(t.tx, kind)
	if err != nil {
		return nil, err
	}
	v := bk.Get([]byte(name))
	if v == nil {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (t *boltTx) List(kind model.Kind, after string, limit int, fn func(name string, value []byte) error) error {
	bk, err := bucketOf(t.tx, kind)
	if err != nil {
		return err
	}
	c := bk.Cursor()
	var k, v []byte
	if after == "" {
		k, v = c.First()
	} else if k, v = c.Seek([]byte(after)); k != nil && string(k) == after {
		k, v = c.Next()
	}
	n := 0
	for ; k != nil; k, v = c.Next() {
		if v == nil {
			continue // a nested bucket; the layout has none
		}
		if err := fn(string(k), bytes.Clone(v)); err != nil {
			return err
		}
		if n++; limit > 0 && n >= limit {
			break
		}
	}
	return nil
}

func (t *boltTx) Put(kind model.Kind, name string, value []byte) error {
	if !t.writable {
		return errReadOnly
	}
	bk, err := bucketOf(t.tx, kind)
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("store: %s with an empty name", kind)
	}
	if kind == model.KindEvent {
		// Event names only ever grow: fill each page before starting
		// the next instead of splitting it half full (bbolt's default,
		// right for keys inserted anywhere).
		bk.FillPercent = 1.0
	}
	// bbolt keeps the slices until commit; the caller may reuse its own.
	if err := bk.Put([]byte(name), bytes.Clone(value)); err != nil {
		return fmt.Errorf("store: %s %q: %w", kind, name, err)
	}
	t.touch(kind)
	return nil
}

func (t *boltTx) Delete(kind model.Kind, name string) error {
	if !t.writable {
		return errReadOnly
	}
	bk, err := bucketOf(t.tx, kind)
	if err != nil {
		return err
	}
	if bk.Get([]byte(name)) == nil {
		return ErrNotFound
	}
	if err := bk.Delete([]byte(name)); err != nil {
		return fmt.Errorf("store: %s %q: %w", kind, name, err)
	}
	t.touch(kind)
	return nil
}

// NextSequence hands out the next number of kind's sequence, kept in the
// meta bucket. Like everything else it is rolled back with the
// transaction; it does not by itself count as a write.
func (t *boltTx) NextSequence(kind model.Kind) (int64, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	m := t.tx.Bucket(metaBucket)
	key := []byte(seqPrefix + string(kind))
	last, err := decodeUint(m.Get(key))
	if err != nil {
		return 0, fmt.Errorf("store: sequence %s: %w", kind, err)
	}
	if err := m.Put(key, encodeUint(last+1)); err != nil {
		return 0, fmt.Errorf("store: sequence %s: %w", kind, err)
	}
	return int64(last + 1), nil
}
