package geo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.mmdb")
	a, b := buildDB(t, "GeoIP2-City", cityA...), buildDB(t, "GeoIP2-City", cityB...)
	writeAtomic(t, path, a)
	d := openTest(t, path, "", Options{})
	const every = 5 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Watch(ctx, every); close(done) }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; stats %+v", what, d.Stats())
			}
			time.Sleep(every)
		}
	}
	lookup := func() Result { return d.LookupPrefix(pfx("2.2.3.0/24")) }

	if got := lookup(); got != cityOnlyA {
		t.Fatalf("start: %+v", got)
	}
	writeAtomic(t, path, b)
	waitFor("the switch to B", func() bool { return lookup() == cityOnlyB })

	writeAtomic(t, path, corrupt(b))
	waitFor("a reload failure", func() bool { return d.Stats().ReloadFailures == 1 })
	if got := lookup(); got != cityOnlyB {
		t.Errorf("after a corrupt replacement: %+v, want B kept", got)
	}
	time.Sleep(20 * every) // a broken file is not retried until it changes
	if s := d.Stats(); s.ReloadFailures != 1 || s.Reloads != 1 {
		t.Errorf("unchanged files: Stats = %+v, want 1 reload and 1 failure", s)
	}

	writeAtomic(t, path, a)
	waitFor("the switch back to A", func() bool { return lookup() == cityOnlyA })
	if s := d.Stats(); s.Reloads != 2 {
		t.Errorf("Stats = %+v, want 2 reloads", s)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}

	// Watch also ends when the DB is closed.
	done = make(chan struct{})
	go func() { d.Watch(context.Background(), every); close(done) }()
	_ = d.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after Close")
	}
}

// fileID notices each way geoipupdate or an operator replaces a file.
func TestFileIDChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db.mmdb")
	if err := os.WriteFile(path, []byte("version 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	first := statID(path)
	if !first.same(statID(path)) {
		t.Fatal("an unchanged file differs from itself")
	}
	// Same size and inode, new modification time.
	if err := os.Chtimes(path, mtime.Add(time.Second), mtime.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if first.same(statID(path)) {
		t.Error("a new mtime went unnoticed")
	}
	// Same size and mtime, another inode (rename over).
	before := statID(path)
	other := filepath.Join(dir, "tmp")
	if err := os.WriteFile(other, []byte("version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(other, mtime.Add(time.Second), mtime.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if before.same(statID(path)) {
		t.Error("a rename over the file went unnoticed")
	}
	// Gone.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if before.same(statID(path)) || !statID(path).same(fileID{}) {
		t.Error("a removed file went unnoticed")
	}
}
