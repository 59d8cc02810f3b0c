package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/store/model"
)

// etcdTx is the Tx of an Etcd Update: reads come from a read transaction
// of the mirror, overlaid with the writes fn made so far, which are kept
// until the commit sends them to etcd.
type etcdTx struct {
	base   *boltTx
	rev    int64
	writes map[writeKey]*etcdWrite
	seqs   map[model.Kind]int64
	// leases holds, once fn has returned, the vote lease the mirror
	// names for each checker whose votes or record tx writes.
	leases map[string]clientv3.LeaseID
}

type writeKey struct {
	kind model.Kind
	name string
}

type etcdWrite struct {
	kind  model.Kind
	name  string
	value []byte
	del   bool
}

var (
	_ Sequencer      = (*etcdTx)(nil)
	_ KindRevisioner = (*etcdTx)(nil)
)

// KindRevision is the mirror's, unless this transaction wrote the kind.
func (t *etcdTx) KindRevision(kind model.Kind) (int64, bool) {
	for k := range t.writes {
		if k.kind == kind {
			return 0, false
		}
	}
	return t.base.KindRevision(kind)
}

// kinds returns the kinds the transaction writes.
func (t *etcdTx) kinds() map[model.Kind]bool {
	out := map[model.Kind]bool{}
	for k := range t.writes {
		out[k.kind] = true
	}
	return out
}

func (t *etcdTx) Revision() int64 { return t.rev }

func (t *etcdTx) wrote() bool { return len(t.writes) > 0 }

func (t *etcdTx) Get(kind model.Kind, name string) ([]byte, error) {
	if w, ok := t.writes[writeKey{kind, name}]; ok {
		if w.del {
			return nil, ErrNotFound
		}
		return bytes.Clone(w.value), nil
	}
	return t.base.Get(kind, name)
}

// errStopList ends a List early once the limit is reached.
var errStopList = errors.New("stop")

func (t *etcdTx) List(kind model.Kind, after string, limit int, fn func(name string, value []byte) error) error {
	// This transaction's writes of kind, in name order, merged into the
	// mirror's walk.
	var pending []*etcdWrite
	for k, w := range t.writes {
		if k.kind == kind && k.name > after {
			pending = append(pending, w)
		}
	}
	slices.SortFunc(pending, func(a, b *etcdWrite) int { return strings.Compare(a.name, b.name) })
	n := 0
	emit := func(name string, value []byte) error {
		if err := fn(name, value); err != nil {
			return err
		}
		if n++; limit > 0 && n >= limit {
			return errStopList
		}
		return nil
	}
	flush := func(before string, all bool) error {
		for len(pending) > 0 && (all || pending[0].name < before) {
			w := pending[0]
			pending = pending[1:]
			if !w.del {
				if err := emit(w.name, bytes.Clone(w.value)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := t.base.List(kind, after, 0, func(name string, value []byte) error {
		if err := flush(name, false); err != nil {
			return err
		}
		if len(pending) > 0 && pending[0].name == name {
			w := pending[0]
			pending = pending[1:]
			if w.del {
				return nil
			}
			value = bytes.Clone(w.value)
		}
		return emit(name, value)
	})
	if err == nil {
		err = flush("", true)
	}
	if errors.Is(err, errStopList) {
		return nil
	}
	return err
}

func (t *etcdTx) Put(kind model.Kind, name string, value []byte) error {
	if _, err := bucketOf(t.base.tx, kind); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("store: %s with an empty name", kind)
	}
	t.writes[writeKey{kind, name}] = &etcdWrite{kind: kind, name: name, value: bytes.Clone(value)}
	return nil
}

func (t *etcdTx) Delete(kind model.Kind, name string) error {
	if _, err := t.Get(kind, name); err != nil {
		return err
	}
	t.writes[writeKey{kind, name}] = &etcdWrite{kind: kind, name: name, del: true}
	return nil
}

// NextSequence hands out the next number of kind's sequence. The number
// is committed with the transaction, which the revision guard makes the
// only writer of it.
func (t *etcdTx) NextSequence(kind model.Kind) (int64, error) {
	if t.seqs == nil {
		t.seqs = map[model.Kind]int64{}
	}
	last, ok := t.seqs[kind]
	if !ok {
		v, err := decodeUint(t.base.tx.Bucket(metaBucket).Get([]byte(seqPrefix + string(kind))))
		if err != nil {
			return 0, fmt.Errorf("store: sequence %s: %w", kind, err)
		}
		last = int64(v)
	}
	t.seqs[kind] = last + 1
	return last + 1, nil
}

// sorted returns the writes in key order, so that a transaction's
// operations are the same whatever the map's order.
func (t *etcdTx) sorted() []*etcdWrite {
	out := make([]*etcdWrite, 0, len(t.writes))
	for _, w := range t.writes {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b *etcdWrite) int {
		if c := strings.Compare(string(a.kind), string(b.kind)); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}
