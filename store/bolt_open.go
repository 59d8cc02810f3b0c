package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/meridian-gslb/meridian/store/model"
)

// SchemaVersion is the version of the on-disk layout this build reads and
// writes. Bump it, and add a migration, whenever the layout changes.
const SchemaVersion = 1

// migrations[v] upgrades a data file from schema version v to v+1. They run
// in order, in the write transaction that opens the file, so a crash during
// an upgrade leaves the old version intact. Version 1 is the first layout;
// add the 1→2 step here as migrations[1] when version 2 comes.
var migrations = map[uint64]func(btx *bolt.Tx) error{}

// probe refuses a file that this build must not write to, without writing:
// a newer schema, a file that is not Meridian's, or one that another
// process holds. A missing or empty file passes.
func probe(path string, opts BoltOptions) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fi.Size() == 0 {
		return nil
	}
	db, err := openDB(path, opts, true)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	return db.View(func(btx *bolt.Tx) error {
		_, err := schemaOf(btx, path)
		return err
	})
}

// openDB opens the bbolt file, mapping a lock timeout to ErrLocked.
func openDB(path string, opts BoltOptions, readOnly bool) (*bolt.DB, error) {
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: creating data directory: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.LockTimeout,
		ReadOnly:     readOnly,
		FreelistType: bolt.FreelistMapType,
		// Map 1 GiB of address space from the start. When a write
		// transaction outgrows the mapping, bbolt copies every node it
		// holds out of the old mapping before remapping, once per
		// doubling: a first reconcile of 100,000 services allocated 2.6
		// GB doing that. The mapping is address space, not memory: only
		// pages that are read become resident, and the file does not grow.
		InitialMmapSize: 1 << 30,
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("store: %s: waited %s: %w", path, opts.LockTimeout, ErrLocked)
	case err != nil:
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	return db, nil
}

// schemaOf returns the schema version of an open file: 0 for a file that
// holds no buckets yet (new, or a crash before the first commit). It fails
// for a newer version and for a bbolt file that is not Meridian's.
func schemaOf(btx *bolt.Tx, path string) (uint64, error) {
	m := btx.Bucket(metaBucket)
	if m == nil {
		empty := true
		_ = btx.ForEach(func([]byte, *bolt.Bucket) error {
			empty = false
			return errors.New("stop")
		})
		if !empty {
			return 0, fmt.Errorf("store: %s is a bbolt file without Meridian's meta bucket; refusing to use it", path)
		}
		return 0, nil
	}
	v, err := decodeUint(m.Get(keySchema))
	switch {
	case err != nil:
		return 0, fmt.Errorf("store: %s: reading schema version: %w", path, err)
	case v == 0:
		return 0, fmt.Errorf("store: %s has a meta bucket but no schema version", path)
	case v > SchemaVersion:
		return 0, fmt.Errorf("%w: %s has schema version %d, this build supports up to %d; use a newer meridian or restore a backup (the file was not modified)",
			ErrSchema, path, v, SchemaVersion)
	}
	return v, nil
}

// prepare brings a freshly opened file to SchemaVersion: it creates the
// layout of a new file, runs migrations on an older one and creates
// buckets for kinds added since. It commits only when something changed.
func prepare(db *bolt.DB, path string) error {
	btx, err := db.Begin(true)
	if err != nil {
		return fmt.Errorf("store: %s: %w", path, err)
	}
	defer func() { _ = btx.Rollback() }() // no-op after Commit
	v, err := schemaOf(btx, path)
	if err != nil {
		return err // e.g. replaced by a newer file since probe: nothing written
	}
	changed := false
	if v == 0 {
		if _, err := btx.CreateBucket(metaBucket); err != nil {
			return fmt.Errorf("store: %s: creating meta bucket: %w", path, err)
		}
		v, changed = SchemaVersion, true
	}
	for ; v < SchemaVersion; v++ {
		migrate, ok := migrations[v]
		if !ok {
			return fmt.Errorf("%w: %s has schema version %d and no migration to %d exists", ErrSchema, path, v, v+1)
		}
		if err := migrate(btx); err != nil {
			return fmt.Errorf("store: %s: migrating schema %d to %d: %w", path, v, v+1, err)
		}
		changed = true
	}
	for _, kind := range model.Kinds {
		if btx.Bucket([]byte(kind)) == nil {
			if _, err := btx.CreateBucket([]byte(kind)); err != nil {
				return fmt.Errorf("store: %s: creating bucket %s: %w", path, kind, err)
			}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := btx.Bucket(metaBucket).Put(keySchema, encodeUint(SchemaVersion)); err != nil {
		return fmt.Errorf("store: %s: writing schema version: %w", path, err)
	}
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("store: %s: %w", path, err)
	}
	return nil
}
