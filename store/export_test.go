package store

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Internals the external tests (package store_test) need.
var (
	MetaBucket = metaBucket
	KeySchema  = keySchema
	EncodeUint = encodeUint
)

// CheckBolt runs bbolt's consistency check over the whole file: page
// references, freelist, ordering of keys.
func CheckBolt(b *Bolt) error {
	return b.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// BoltHighWater is the size of the file bbolt uses (its highest page in
// use), which can be below the file's size: bbolt grows the file ahead.
func BoltHighWater(b *Bolt) int64 {
	var n int64
	_ = b.db.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n
}

// BoltFreePages is the number of free pages in bbolt's freelist.
func BoltFreePages(b *Bolt) int { return b.db.Stats().FreePageN }

// DecodeEventHead is decodeHead: an event's at, type and object.
func DecodeEventHead(b []byte) (at time.Time, typ, object string, err error) {
	var buf []byte
	h, err := decodeHead(b, &buf)
	return h.At, h.Type, h.Object, err
}
