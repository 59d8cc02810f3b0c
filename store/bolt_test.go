package store_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/storetest"
)

// openBolt opens a store in a fresh directory (one level below the temp
// directory, so OpenBolt has to create it) and closes it after the test.
func openBolt(t testing.TB) *store.Bolt {
	t.Helper()
	b, err := store.OpenBolt(filepath.Join(t.TempDir(), "data", "meridian.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func TestBoltContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openBolt(t) })
}

func TestBoltCreatesPrivateFile(t *testing.T) {
	b := openBolt(t)
	fi, err := os.Stat(b.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("data file mode %v, want 0600", perm)
	}
}

func TestBoltUnknownKind(t *testing.T) {
	b := openBolt(t)
	_, err := b.Update(t.Context(), func(tx store.Tx) error {
		return tx.Put("nonsense", "x", []byte("{}"))
	})
	if err == nil || !strings.Contains(err.Error(), `unknown kind "nonsense"`) {
		t.Fatalf("Put of an unknown kind: %v", err)
	}
}

// TestBoltReopen: everything survives Close and OpenBolt: objects with
// their meta, the revision, events and the event sequence.
func TestBoltReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meridian.db")
	s, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st := bigState(0, 3, 20, 5)
	if _, _, err := store.Reconcile(ctx, s, "test", st, store.ReconcileOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ctx, func(tx store.Tx) error {
		if err := store.Put(tx, &model.Checker{Name: "c1", Region: "eu"}, 0); err != nil {
			return err
		}
		return store.AppendEvent(tx, &model.Event{Type: "note"})
	})
	if err != nil {
		t.Fatal(err)
	}
	wantState, wantRev, err := store.LoadState(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents, err := store.ListEvents(ctx, s, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gotState, gotRev, err := store.LoadState(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if gotRev != wantRev || wantRev != 2 {
		t.Errorf("revision after reopen %d, before %d (want 2)", gotRev, wantRev)
	}
	if d := cmp.Diff(wantState, gotState); d != "" {
		t.Errorf("state after reopen (-before +after):\n%s", d)
	}
	gotEvents, err := store.ListEvents(ctx, s, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantEvents, gotEvents); d != "" || len(gotEvents) < 2 {
		t.Errorf("events after reopen (-before +after):\n%s", d)
	}
	var seq int64
	rev, err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := store.Get[model.Checker](tx, "c1"); err != nil {
			return err
		}
		e := &model.Event{Type: "after"}
		err := store.AppendEvent(tx, e)
		seq = e.Seq
		return err
	})
	if err != nil || rev != 3 || seq != int64(len(wantEvents))+1 {
		t.Fatalf("write after reopen: revision %d, event seq %d, %v; want 3 and %d", rev, seq, err, len(wantEvents)+1)
	}
}

// setSchema writes a schema version into a closed data file with bbolt.
func setSchema(t *testing.T, path string, v uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(store.MetaBucket).Put(store.KeySchema, store.EncodeUint(v))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestBoltNewerSchemaRefused: a file from a newer Meridian is refused with
// ErrSchema and a message naming both versions, and is not modified.
func TestBoltNewerSchemaRefused(t *testing.T) {
	b := openBolt(t)
	path := b.Path()
	if _, _, err := store.Reconcile(t.Context(), b, "test", bigState(0, 1, 10, 3), store.ReconcileOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	setSchema(t, path, store.SchemaVersion+1)
	before := fileHash(t, path)
	fiBefore, _ := os.Stat(path)

	_, err := store.OpenBolt(path, store.BoltOptions{})
	if !errors.Is(err, store.ErrSchema) {
		t.Fatalf("OpenBolt of a newer file: %v, want ErrSchema", err)
	}
	for _, want := range []string{fmt.Sprintf("schema version %d", store.SchemaVersion+1), fmt.Sprintf("supports up to %d", store.SchemaVersion), path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	fiAfter, _ := os.Stat(path)
	if fileHash(t, path) != before || !fiAfter.ModTime().Equal(fiBefore.ModTime()) {
		t.Fatal("the newer file was modified")
	}

	setSchema(t, path, store.SchemaVersion) // the same file at our version opens
	s, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatalf("OpenBolt at the supported version: %v", err)
	}
	s.Close()
}

// TestBoltForeignFiles: files that are not Meridian's are refused and left
// alone.
func TestBoltForeignFiles(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("stuff")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, path := range []string{text, other} {
		before := fileHash(t, path)
		if _, err := store.OpenBolt(path, store.BoltOptions{}); err == nil {
			t.Errorf("%s: opened", filepath.Base(path))
		} else {
			t.Logf("%s: %v", filepath.Base(path), err)
		}
		if fileHash(t, path) != before {
			t.Errorf("%s was modified", filepath.Base(path))
		}
	}
}

// TestBoltLocked: a second open of a file in use fails within the lock
// timeout, saying why; once the holder closes, it opens.
func TestBoltLocked(t *testing.T) {
	b := openBolt(t)
	start := time.Now()
	_, err := store.OpenBolt(b.Path(), store.BoltOptions{LockTimeout: 100 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second OpenBolt: %v, want ErrLocked", err)
	}
	if elapsed > 2*time.Second {
		t.Fatalf("second OpenBolt took %s", elapsed)
	}
	t.Logf("refused after %s: %v", elapsed.Round(time.Millisecond), err)
	b.Close()
	s, err := store.OpenBolt(b.Path(), store.BoltOptions{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("OpenBolt after the holder closed: %v", err)
	}
	s.Close()
}

// BenchmarkBoltWrite: one data center Put per Update, fsync included.
func BenchmarkBoltWrite(b *testing.B) {
	s := openBolt(b)
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("dc%04d", i)
	}
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dc := &model.Datacenter{Name: names[i%len(names)], Region: "eu", Location: model.Location{Lat: 50.1, Lon: 8.7}}
		i++
		if _, err := s.Update(ctx, func(tx store.Tx) error { return store.Put(tx, dc, 0) }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoltGet: one typed Get per View, for comparison.
func BenchmarkBoltGet(b *testing.B) {
	s := openBolt(b)
	ctx := b.Context()
	if _, err := s.Update(ctx, func(tx store.Tx) error {
		return store.Put(tx, &model.Datacenter{Name: "fra", Location: model.Location{Lat: 50.1, Lon: 8.7}}, 0)
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.View(ctx, func(tx store.Tx) error {
			_, err := store.Get[model.Datacenter](tx, "fra")
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}
