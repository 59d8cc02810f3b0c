package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// newObject returns an empty object of kind to decode into.
func newObject(kind model.Kind) (model.Object, error) {
	if obj, ok := model.NewObject(kind); ok {
		return obj, nil
	}
	return nil, fmt.Errorf("api: no object type for kind %s", kind)
}

// getObject reads kind/name in tx; nil without error when it does not
// exist.
func getObject(tx store.Tx, kind model.Kind, name string) (model.Object, error) {
	b, err := tx.Get(kind, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeObject(kind, name, b)
}

func decodeObject(kind model.Kind, name string, b []byte) (model.Object, error) {
	obj, err := newObject(kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, obj); err != nil {
		return nil, fmt.Errorf("api: decoding %s %q: %w", kind, name, err)
	}
	return obj, nil
}

// listObjects reads one page of kind: up to limit+1 objects after the
// name after, so that finish can tell whether another page exists.
func listObjects(tx store.Tx, kind model.Kind, p page) ([]model.Object, error) {
	var out []model.Object
	err := tx.List(kind, p.after, p.limit+1, func(name string, b []byte) error {
		obj, err := decodeObject(kind, name, b)
		if err != nil {
			return err
		}
		out = append(out, redact(obj))
		return nil
	})
	return out, err
}

// stateOf reads the desired state inside tx, as store.LoadState does in
// a View of its own: writes check the state they will change, in the
// transaction that changes it.
func stateOf(tx store.Tx) (*model.State, error) {
	var st model.State
	var err error
	if st.Zones, err = store.List[model.Zone](tx); err != nil {
		return nil, err
	}
	if st.Regions, err = store.List[model.Region](tx); err != nil {
		return nil, err
	}
	if st.Datacenters, err = store.List[model.Datacenter](tx); err != nil {
		return nil, err
	}
	if st.Services, err = store.List[model.Service](tx); err != nil {
		return nil, err
	}
	return &st, nil
}

// withChange returns a copy of st with kind/name replaced by obj, or
// removed when obj is nil.
func withChange(st *model.State, kind model.Kind, name string, obj model.Object) *model.State {
	next := &model.State{}
	for _, o := range st.Objects() {
		if o.ObjectKind() != kind || o.ObjectName() != name {
			_ = next.Add(o) // a state kind: cannot fail
		}
	}
	if obj != nil {
		_ = next.Add(obj)
	}
	return next
}

func isStateKind(kind model.Kind) bool {
	switch kind {
	case model.KindZone, model.KindRegion, model.KindDatacenter, model.KindService:
		return true
	}
	return false
}

// normalize puts names in the canonical form the state file loader
// gives them, so that "Example.ORG" and "example.org." are one zone.
// Invalid names are left alone for Validate to report.
func normalize(obj model.Object) {
	canon := func(s string) string {
		if model.ValidName(s) {
			return model.CanonicalName(s)
		}
		return s
	}
	switch o := obj.(type) {
	case *model.Zone:
		o.Name = canon(o.Name)
		for i := range o.Nameservers {
			o.Nameservers[i].Name = canon(o.Nameservers[i].Name)
		}
		normalizeRecords(o.Records)
	case *model.Service:
		o.Name = canon(o.Name)
		o.Type = strings.ToUpper(o.Type)
		if o.Type == "CNAME" {
			for i := range o.Endpoints {
				o.Endpoints[i].Address = canon(o.Endpoints[i].Address)
			}
		}
	}
}

func normalizeRecords(recs []model.Record) {
	for i := range recs {
		if model.ValidName(recs[i].Name) {
			recs[i].Name = model.CanonicalName(recs[i].Name)
		}
		recs[i].Type = strings.ToUpper(recs[i].Type)
	}
}

// redact removes what must never leave the store: a token's hash, a
// webhook's secret (shown as has_secret).
func redact(obj model.Object) model.Object {
	switch o := obj.(type) {
	case *model.Token:
		c := *o
		c.Hash = ""
		return &c
	case *model.Webhook:
		return viewWebhook(o)
	}
	return obj
}

// auditJSON is obj as an event's before or after: its JSON, redacted;
// "" for nil.
func auditJSON(obj model.Object) string {
	if obj == nil {
		return ""
	}
	b, err := json.Marshal(redact(obj))
	if err != nil {
		return ""
	}
	return string(b)
}

// objectRef is "kind/name", how events and problems name objects.
func objectRef(kind model.Kind, name string) string { return string(kind) + "/" + name }

// ifMatch is a request's If-Match header.
type ifMatch struct {
	present bool
	any     bool // "*": the object must exist
	revs    []int64
}

// parseIfMatch reads If-Match: "*" or a list of revisions as strong or
// weak entity tags ("12", W/"12"); a bare number is accepted too.
func parseIfMatch(r *http.Request) (ifMatch, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return ifMatch{}, nil
	}
	m := ifMatch{present: true}
	if h == "*" {
		m.any = true
		return m, nil
	}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		tag = strings.TrimSuffix(strings.TrimPrefix(tag, `"`), `"`)
		n, err := strconv.ParseInt(tag, 10, 64)
		if err != nil || n <= 0 {
			return m, badParam("If-Match", `want "*" or the ETag of a GET, a revision in quotes such as "12"`)
		}
		m.revs = append(m.revs, n)
	}
	return m, nil
}

// check returns a conflictError unless old satisfies the condition.
func (m ifMatch) check(ref string, old model.Object) error {
	if !m.present {
		return nil
	}
	var cur int64
	if old != nil {
		cur = old.GetMeta().Revision
		if m.any {
			return nil
		}
		for _, r := range m.revs {
			if r == cur {
				return nil
			}
		}
	}
	return &conflictError{object: ref, current: cur}
}

// etag is the ETag of an object: its revision, quoted.
func etag(obj model.Object) string { return `"` + strconv.FormatInt(obj.GetMeta().Revision, 10) + `"` }
