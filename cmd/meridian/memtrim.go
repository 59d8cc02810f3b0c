package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory trimming: after a burst of allocation (a snapshot rebuild or a
// reread of the check list, which with 100,000 services allocate several
// hundred MiB for a live heap of under 200), Go keeps the freed heap for
// reuse and hands it back to the system only slowly, in step with a heap
// goal of twice the live heap. A name server at rest allocates almost
// nothing, so that memory stays idle in its RSS for good. The trimmer
// hands it back once there is a lot of it.
const (
	trimEvery = 30 * time.Second
	// trimOver is the free, unreturned heap that is worth a forced
	// collection (debug.FreeOSMemory); below it the runtime's own
	// scavenger is left to do its work.
	trimOver = 64 << 20
)

// freeHeap is the heap that is free and not yet returned to the system.
func freeHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// trimOnce returns the free heap to the system when it is at least over
// bytes, and reports whether it did.
func trimOnce(over uint64) bool {
	if freeHeap() < over {
		return false
	}
	debug.FreeOSMemory()
	return true
}

// trimMemory calls trimOnce every interval until ctx ends.
func trimMemory(ctx context.Context, every time.Duration, over uint64) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			trimOnce(over)
		}
	}
}
