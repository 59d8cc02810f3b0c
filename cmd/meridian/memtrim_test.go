package main

import (
	"runtime"
	"testing"
)

// TestTrimOnce: a burst of garbage leaves free heap that the trimmer
// hands back, and a trimmer with nothing to do leaves it alone.
func TestTrimOnce(t *testing.T) {
	burst := make([][]byte, 0, 256)
	for range 256 {
		burst = append(burst, make([]byte, 1<<20)) // 256 MiB
	}
	runtime.KeepAlive(burst)
	burst = nil
	runtime.GC()
	if free := freeHeap(); free < trimOver {
		t.Fatalf("after a 256 MiB burst, %d MiB free: the burst did not leave free heap", free>>20)
	}
	if !trimOnce(trimOver) {
		t.Fatal("the trimmer left the burst's free heap alone")
	}
	if free := freeHeap(); free >= trimOver {
		t.Fatalf("after trimming, %d MiB free and not returned", free>>20)
	}
	if trimOnce(1 << 40) {
		t.Fatal("trimmed below the threshold")
	}
}
