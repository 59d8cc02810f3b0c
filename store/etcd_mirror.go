package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The mirror is a Bolt file of the usual layout, so that View and every
// reader work on it unchanged, with a few more keys in its meta bucket:
// the etcd revision it reflects, the prefix it copies, and the vote lease
// of each checker.
var (
	keyMirrorRevision = []byte("etcd/revision")
	keyMirrorPrefix   = []byte("etcd/prefix")
	mirrorLeasePrefix = "lease/" // + checker
)

// mirrorMeta returns the etcd revision and prefix the mirror reflects.
func (b *Bolt) mirrorMeta() (int64, string, error) {
	var rev uint64
	var prefix string
	err := b.db.View(func(btx *bolt.Tx) error {
		m := btx.Bucket(metaBucket)
		var err error
		if rev, err = decodeUint(m.Get(keyMirrorRevision)); err != nil {
			return fmt.Errorf("store: %s: etcd revision: %w", b.path, err)
		}
		prefix = string(m.Get(keyMirrorPrefix))
		return nil
	})
	return int64(rev), prefix, err
}

// mirrorReset empties the mirror, for a copy of another prefix.
func (b *Bolt) mirrorReset(prefix string) error {
	return b.mirrorReplace(prefix, nil, 0, func(string) (string, string, bool) { return "", "", false })
}

// mirrorReplace replaces the mirror's whole content, in one transaction,
// with kvs read from etcd at revision rev. place says where a key goes:
// a bucket (kind) and name, or ("meta", meta key) for meta keys; false
// skips it.
func (b *Bolt) mirrorReplace(prefix string, kvs []*mvccpb.KeyValue, rev int64, place func(key string) (bucket, name string, ok bool)) error {
	before, _ := b.Revision(context.Background())
	var after int64
	err := b.db.Update(func(btx *bolt.Tx) error {
		var kinds [][]byte
		err := btx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if string(name) != string(metaBucket) {
				kinds = append(kinds, append([]byte(nil), name...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range kinds {
			if err := btx.DeleteBucket(k); err != nil {
				return err
			}
			if _, err := btx.CreateBucket(k); err != nil {
				return err
			}
		}
		m := btx.Bucket(metaBucket)
		var metaKeys [][]byte
		_ = m.ForEach(func(k, _ []byte) error {
			if s := string(k); strings.HasPrefix(s, seqPrefix) || strings.HasPrefix(s, mirrorLeasePrefix) || strings.HasPrefix(s, kindRevPrefix) {
				metaKeys = append(metaKeys, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range metaKeys {
			if err := m.Delete(k); err != nil {
				return err
			}
		}
		if err := m.Put(keyRevision, encodeUint(0)); err != nil {
			return err
		}
		for _, kv := range kvs {
			if err := mirrorPut(btx, place, string(kv.Key), kv.Value, false); err != nil {
				return err
			}
		}
		if err := m.Put(keyMirrorPrefix, []byte(prefix)); err != nil {
			return err
		}
		if err := m.Put(keyMirrorRevision, encodeUint(uint64(rev))); err != nil {
			return err
		}
		after, err = readRevision(btx)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: %s: replacing the local copy: %w", b.path, err)
	}
	if after != before {
		b.hub.notify(after)
	}
	return nil
}

// mirrorApply applies watched etcd events in one transaction and tells
// watchers when the store revision moved.
func (b *Bolt) mirrorApply(events []*clientv3.Event, place func(key string) (bucket, name string, ok bool)) (int64, error) {
	var rev, after int64
	before, _ := b.Revision(context.Background())
	err := b.db.Update(func(btx *bolt.Tx) error {
		for _, ev := range events {
			del := ev.Type == clientv3.EventTypeDelete
			if err := mirrorPut(btx, place, string(ev.Kv.Key), ev.Kv.Value, del); err != nil {
				return err
			}
			rev = max(rev, ev.Kv.ModRevision)
		}
		if err := btx.Bucket(metaBucket).Put(keyMirrorRevision, encodeUint(uint64(rev))); err != nil {
			return err
		}
		var err error
		after, err = readRevision(btx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: %s: applying etcd changes: %w", b.path, err)
	}
	if after > before {
		b.hub.notify(after)
	}
	return rev, nil
}

// mirrorPut writes or deletes one etcd key in the mirror. Meta values are
// decimal in etcd and 8-byte numbers in Bolt's meta bucket.
func mirrorPut(btx *bolt.Tx, place func(string) (string, string, bool), key string, value []byte, del bool) error {
	bucket, name, ok := place(key)
	if !ok {
		return nil
	}
	bk := btx.Bucket([]byte(bucket))
	if bk == nil {
		return nil // a kind of a newer Meridian: nothing here reads it
	}
	if bucket == string(metaBucket) && (name == string(keyRevision) || strings.HasPrefix(name, seqPrefix) || strings.HasPrefix(name, kindRevPrefix)) && !del {
		n, err := strconv.ParseUint(string(value), 10, 64)
		if err != nil {
			return fmt.Errorf("etcd key %s: %q is not a number", key, value)
		}
		value = encodeUint(n)
	}
	if del {
		return bk.Delete([]byte(name))
	}
	return bk.Put([]byte(name), value)
}

// mirrorLease returns the vote lease the mirror names for checker, or 0.
func (t *boltTx) mirrorLease(checker string) clientv3.LeaseID {
	v := t.tx.Bucket(metaBucket).Get([]byte(mirrorLeasePrefix + checker))
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0
	}
	return clientv3.LeaseID(n)
}

// place maps an etcd key of this store to its place in the mirror.
func (e *Etcd) place(key string) (string, string, bool) {
	rest, ok := strings.CutPrefix(key, e.prefix)
	if !ok {
		return "", "", false
	}
	if meta, ok := strings.CutPrefix(rest, etcdMeta); ok {
		switch {
		case meta == "revision":
			return string(metaBucket), string(keyRevision), true
		case strings.HasPrefix(meta, "seq/"), strings.HasPrefix(meta, "lease/"), strings.HasPrefix(meta, kindRevPrefix):
			return string(metaBucket), meta, true // the same names as in Bolt's meta
		}
		return "", "", false // schema: checked by fullSync
	}
	kind, name, ok := strings.Cut(rest, "/")
	if !ok || kind == string(metaBucket) || name == "" {
		return "", "", false
	}
	return kind, name, true
}

// fullSync reads the whole prefix at one etcd revision, in pages, and
// replaces the mirror with it.
func (e *Etcd) fullSync(ctx context.Context) error {
	end := clientv3.GetPrefixRangeEnd(e.prefix)
	from := e.prefix
	var rev int64
	var kvs []*mvccpb.KeyValue
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(syncPageSize)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		rctx, cancel := context.WithTimeout(ctx, e.opts.RequestTimeout)
		resp, err := e.client().Get(rctx, from, opts...)
		cancel()
		if err != nil {
			return err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		kvs = append(kvs, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for _, kv := range kvs {
		if string(kv.Key) != e.prefix+etcdSchemaKey {
			continue
		}
		v, err := strconv.Atoi(string(kv.Value))
		if err != nil || v > SchemaVersion {
			return fmt.Errorf("%w: etcd prefix %s has schema version %q, this build supports up to %d; use a newer meridian",
				ErrSchema, e.prefix, kv.Value, SchemaVersion)
		}
	}
	if err := e.mirror.mirrorReplace(e.prefix, kvs, rev, e.place); err != nil {
		return err
	}
	e.syncs.Add(1)
	e.synced.Store(true)
	e.advanced(rev)
	return nil
}

// follow keeps the mirror current: a watch on the prefix from the
// revision after the mirror's, and a full read again when etcd has
// compacted the revisions the watch would need (after a long outage).
func (e *Etcd) follow(ctx context.Context, synced bool) {
	e.synced.Store(synced)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if !e.synced.Load() {
			if err := e.fullSync(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, ErrSchema) {
					e.setStatus(false, err.Error())
				}
				e.log.Debug("etcd: reading the state failed", "err", err)
				sleep(ctx, backoff)
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			e.log.Info("local copy of the shared state resynchronised", "etcd_revision", e.applied.Load())
			e.setStatus(true, "")
		}
		backoff = 100 * time.Millisecond
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := e.client().Watch(wctx, e.prefix, clientv3.WithPrefix(), clientv3.WithRev(e.applied.Load()+1))
		for resp := range wch {
			if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
				e.log.Info("etcd compacted the revisions the local copy needs; reading the state again", "compacted", resp.CompactRevision)
				e.synced.Store(false)
				break
			}
			if err := resp.Err(); err != nil {
				e.log.Debug("etcd watch ended", "err", err)
				break
			}
			if len(resp.Events) == 0 {
				continue
			}
			rev, err := e.mirror.mirrorApply(resp.Events, e.place)
			if err != nil {
				e.log.Error("applying etcd changes to the local copy failed; reading the state again", "err", err)
				e.synced.Store(false)
				break
			}
			e.advanced(rev)
		}
		cancel()
		sleep(ctx, backoff)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
