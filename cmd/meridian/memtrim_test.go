package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// burst allocates and drops 256 MiB.
func burst() {
	b := make([][]byte, 0, 256)
	for range 256 {
		b = append(b, make([]byte, 1<<20))
	}
	runtime.KeepAlive(b)
}

// TestTrimOnce: a burst of garbage, collected or not yet, is handed back
// to the system, and a trimmer with nothing to do leaves the heap alone.
func TestTrimOnce(t *testing.T) {
	for _, collected := range []bool{true, false} {
		if collected {
			burst()
			runtime.GC()
		} else {
			// No collection during the burst either: all of it is
			// garbage not yet collected, as after a burst that ended
			// below the heap goal.
			old := debug.SetGCPercent(-1)
			burst()
			debug.SetGCPercent(old)
		}
		if r := reclaimable(); r < trimOver {
			t.Fatalf("collected %v: after a 256 MiB burst, %d MiB reclaimable", collected, r>>20)
		}
		if !trimOnce(trimOver) {
			t.Fatalf("collected %v: the trimmer left the burst alone", collected)
		}
		if r := reclaimable(); r >= trimOver {
			t.Fatalf("collected %v: after trimming, %d MiB still reclaimable", collected, r>>20)
		}
	}
	if trimOnce(1 << 40) {
		t.Fatal("trimmed below the threshold")
	}
}
