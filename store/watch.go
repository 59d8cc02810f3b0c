package store

import (
	"context"
	"sync"
)

// watchHub fans committed revisions out to Watch channels. Every send and
// every close happens under mu, so a channel is never sent on after it is
// closed, whichever of the writer, the watcher's context and Close comes
// first. A backend embeds one and calls notify after each commit.
type watchHub struct {
	mu     sync.Mutex
	closed bool
	last   int64 // highest revision notified
	subs   map[*watchSub]struct{}
}

type watchSub struct {
	ch   chan int64
	stop func() bool // unregisters the context callback
}

func (h *watchHub) init() { h.subs = map[*watchSub]struct{}{} }

// watch registers a channel with room for one revision. It is closed when
// ctx ends or the hub closes.
func (h *watchHub) watch(ctx context.Context) <-chan int64 {
	ch := make(chan int64, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || ctx.Err() != nil {
		close(ch)
		return ch
	}
	s := &watchSub{ch: ch}
	h.subs[s] = struct{}{}
	// AfterFunc runs its function in a goroutine of its own, so taking mu
	// there cannot deadlock with us holding it now.
	s.stop = context.AfterFunc(ctx, func() { h.drop(s) })
	return ch
}

func (h *watchHub) drop(s *watchSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// notify offers rev to every watcher without blocking. A pending older
// revision is replaced (drain, then send), so a slow reader finds the
// newest one. Commits may call notify out of order; older revisions than
// one already sent are ignored, so the last value seen is the latest.
func (h *watchHub) notify(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || rev <= h.last {
		return
	}
	h.last = rev
	for s := range h.subs {
		select {
		case <-s.ch:
		default:
		}
		select {
		case s.ch <- rev:
		default: // unreachable: only notify sends, and it just made room
		}
	}
}

// close closes every channel; later watch calls get a closed channel.
func (h *watchHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		s.stop()
		delete(h.subs, s)
		close(s.ch)
	}
}
