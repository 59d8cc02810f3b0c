package store

import "github.com/meridian-gslb/meridian/store/model"

// KindRevisioner is an optional ability of a Tx: the revision of the last
// commit that wrote (put or deleted) an object of a kind. A reader that
// keeps something derived from a kind (the health engine's check list,
// the DNS snapshot) asks it before reading the kind again, and reads
// again only when it moved: with 100,000 services, decoding them all
// costs about half a second of CPU.
//
// Both backends record it. A kind never written since the store was made
// (or since a file from before this was added) is at 0. Votes that etcd
// deletes when their lease runs out do not move it: those deletions are no
// commit of Meridian's.
type KindRevisioner interface {
	// KindRevision returns the kind's revision, and false when it cannot
	// tell: in an Update that wrote the kind already.
	KindRevision(kind model.Kind) (int64, bool)
}

// KindRevision asks tx for kind's revision; false when the backend does
// not record them or cannot tell in this transaction.
func KindRevision(tx Tx, kind model.Kind) (int64, bool) {
	if k, ok := tx.(KindRevisioner); ok {
		return k.KindRevision(kind)
	}
	return 0, false
}

// kindRevPrefix + kind is the meta key of a kind's revision, in Bolt's
// meta bucket (8-byte number) and under the etcd prefix's meta/ (decimal).
const kindRevPrefix = "kindrev/"
