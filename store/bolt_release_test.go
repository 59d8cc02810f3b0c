//go:build linux

package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// The tests measure the resident pages of the data file's mapping in
// this process from /proc/self/smaps: the mapping that starts where
// bbolt's data does.

// mappedRSS is the resident size of b's mapping of its file, in bytes.
func mappedRSS(t *testing.T, b *Bolt) int64 {
	t.Helper()
	start := strconv.FormatUint(uint64(b.db.Info().Data), 16)
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if addr, _, ok := strings.Cut(line, "-"); ok && !strings.Contains(addr, " ") && !strings.HasSuffix(addr, ":") {
			in = strings.TrimLeft(addr, "0") == start
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, err := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", start)
	return 0
}

// releaseValue is the value stored under name: 8 KiB that say which
// object they are.
func releaseValue(name string) []byte {
	return bytes.Repeat([]byte(name+";"), 8192/(len(name)+1))
}

// fillForRelease writes n objects of releaseValue into b.
func fillForRelease(t *testing.T, b *Bolt, n int) {
	t.Helper()
	for start := 0; start < n; start += 500 {
		_, err := b.Update(t.Context(), func(tx Tx) error {
			for i := start; i < min(start+500, n); i++ {
				name := fmt.Sprintf("obj-%05d", i)
				if err := tx.Put(model.KindEvent, name, releaseValue(name)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// readAll reads every object of b and checks it, returning how many.
func readAll(ctx context.Context, b *Bolt) (int, error) {
	n := 0
	err := b.View(ctx, func(tx Tx) error {
		return tx.List(model.KindEvent, "", 0, func(name string, v []byte) error {
			if !bytes.Equal(v, releaseValue(name)) {
				return fmt.Errorf("%s holds %.40q…", name, v)
			}
			n++
			return nil
		})
	})
	return n, err
}

// TestReleasePages: a scan leaves the file's pages mapped in the
// process; ReleasePages gives them back, and reads afterwards see the
// same data (mapping it again).
func TestReleasePages(t *testing.T) {
	b, err := OpenBolt(filepath.Join(t.TempDir(), "meridian.db"), BoltOptions{ReleaseEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const objects = 4000 // 32 MiB
	fillForRelease(t, b, objects)
	if n, err := readAll(t.Context(), b); err != nil || n != objects {
		t.Fatalf("read %d objects, %v; want %d", n, err, objects)
	}
	scanned := mappedRSS(t, b)
	if scanned < 24<<20 {
		t.Fatalf("after a scan of 32 MiB, %d KiB of the file are mapped: the measurement does not see the scan", scanned>>10)
	}
	if err := b.ReleasePages(); err != nil {
		t.Fatal(err)
	}
	released := mappedRSS(t, b)
	if released > 1<<20 {
		t.Fatalf("after ReleasePages, %d KiB of the file are still mapped (%d KiB before)", released>>10, scanned>>10)
	}
	if n, err := readAll(t.Context(), b); err != nil || n != objects {
		t.Fatalf("after ReleasePages: read %d objects, %v; want %d", n, err, objects)
	}
	if again := mappedRSS(t, b); again < 24<<20 {
		t.Fatalf("a scan after ReleasePages mapped %d KiB", again>>10)
	}
	t.Logf("mapped after a scan %d KiB, after ReleasePages %d KiB", scanned>>10, released>>10)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.ReleasePages(); err != ErrClosed {
		t.Fatalf("ReleasePages after Close: %v, want ErrClosed", err)
	}
}

// TestReleaseLoop: an open Bolt gives its pages back by itself after a
// read, every ReleaseEvery.
func TestReleaseLoop(t *testing.T) {
	b, err := OpenBolt(filepath.Join(t.TempDir(), "meridian.db"), BoltOptions{ReleaseEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fillForRelease(t, b, 2000)
	if _, err := readAll(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // a failure bound
	for mappedRSS(t, b) > 1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d KiB still mapped 10 s after a scan", mappedRSS(t, b)>>10)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReleasePagesUnderLoad: releasing while readers scan and a writer
// commits loses and garbles nothing.
func TestReleasePagesUnderLoad(t *testing.T) {
	b, err := OpenBolt(filepath.Join(t.TempDir(), "meridian.db"), BoltOptions{ReleaseEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fillForRelease(t, b, 1000)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	stop := make(chan struct{})
	wg.Go(func() { // the writer: 200 more objects, one commit each
		for i := 1000; i < 1200; i++ {
			name := fmt.Sprintf("obj-%05d", i)
			if _, err := b.Update(ctx, func(tx Tx) error { return tx.Put(model.KindEvent, name, releaseValue(name)) }); err != nil {
				errs <- err
				return
			}
		}
	})
	for range 2 { // readers, until the writer is done
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := readAll(ctx, b); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 300 {
		if err := b.ReleasePages(); err != nil {
			t.Fatal(err)
		}
	}
	// The writer finishes on its own; then the readers stop.
	for {
		var n int
		if err := b.View(ctx, func(tx Tx) error {
			return tx.List(model.KindEvent, "", 0, func(string, []byte) error { n++; return nil })
		}); err != nil {
			t.Fatal(err)
		}
		if n == 1200 || len(errs) > 0 {
			break
		}
		if err := b.ReleasePages(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := readAll(ctx, b); err != nil || n != 1200 {
		t.Fatalf("read %d objects, %v; want 1200", n, err)
	}
	if err := CheckBolt(b); err != nil {
		t.Fatal(err)
	}
}
