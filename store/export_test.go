package store

import (
	"errors"

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
