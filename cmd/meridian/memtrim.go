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
// nothing, so that memory stays idle in its RSS for good: the garbage
// of the burst is not even collected until the runtime's two-minute
// forced collection. The trimmer collects and hands it back once there
// is a lot of it.
const (
	trimEvery = 30 * time.Second
	// trimOver is the free, unreturned heap and garbage not yet
	// collected that is worth a forced collection (debug.FreeOSMemory);
	// below it the runtime is left to do its work.
	trimOver = 64 << 20
)

// reclaimable is the heap that is free and not yet returned to the
// system, plus what was allocated since the last collection beyond the
// live heap it found: at most the garbage a collection would free.
func reclaimable() uint64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	metrics.Read(s)
	var v [3]uint64
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = s[i].Value.Uint64()
		}
	}
	free, objects, live := v[0], v[1], v[2]
	return free + objects - min(live, objects)
}

// trimOnce collects and returns the free heap to the system when at
// least over bytes are reclaimable, and reports whether it did.
func trimOnce(over uint64) bool {
	if reclaimable() < over {
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
