package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// zoneName reads {zone}, with or without its trailing dot, in canonical
// form.
func zoneName(r *http.Request) (string, error) {
	name := pathParam(r, "zone")
	if !model.ValidName(name) || name == "." {
		return "", badParam("zone", "%q is not a zone name", name)
	}
	return model.CanonicalName(name), nil
}

func zoneLocation(name string) string { return "/api/v1/zones/" + url.PathEscape(name) }

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) { s.list(w, r, model.KindZone) }

func (s *Server) createZone(w http.ResponseWriter, r *http.Request) {
	obj, err := s.decodeObject(w, r, model.KindZone)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.create(w, r, obj, zoneLocation(obj.ObjectName()))
}

func (s *Server) getZone(w http.ResponseWriter, r *http.Request) {
	name, err := zoneName(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.get(w, r, model.KindZone, name)
}

// putZone creates or replaces a zone. A body without "records" keeps the
// stored records (they have their own route); "records": [] clears them.
func (s *Server) putZone(w http.ResponseWriter, r *http.Request) {
	name, err := zoneName(r)
	var obj model.Object
	if err == nil {
		obj, err = s.decodeObject(w, r, model.KindZone)
	}
	if err == nil {
		err = nameFromPath(obj, name)
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	z := obj.(*model.Zone)
	// Decided once: keep may run again (a store retry) after it set
	// z.Records from an older stored zone.
	keepRecords := z.Records == nil
	keep := func(_ store.Tx, old model.Object) error {
		if keepRecords {
			z.Records = nil
			if old != nil {
				z.Records = old.(*model.Zone).Records
			}
		}
		return nil
	}
	s.replace(w, r, op{kind: model.KindZone, name: name, obj: z, prepare: keep}, zoneLocation(name))
}

func (s *Server) deleteZone(w http.ResponseWriter, r *http.Request) {
	name, err := zoneName(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.remove(w, r, model.KindZone, name)
}

// listRecords answers a page of the zone's static records, in zone
// order. The cursor is the position after the page's last record.
func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	name, err := zoneName(r)
	var p page
	if err == nil {
		p, err = pageOf(r)
	}
	start := 0
	if err == nil && p.after != "" {
		if start, err = strconv.Atoi(p.after); err != nil || start < 0 {
			err = badParam("after", "want the next cursor of the previous page, not %q", p.after)
		}
	}
	var z *model.Zone
	if err == nil {
		err = s.st.View(r.Context(), func(tx store.Tx) error {
			var err error
			z, err = store.Get[model.Zone](tx, name)
			return err
		})
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	recs := z.Records[min(start, len(z.Records)):]
	l := List[model.Record]{Items: recs[:min(p.limit, len(recs))]}
	if len(recs) > p.limit {
		l.Next = strconv.Itoa(start + p.limit)
	}
	if l.Items == nil {
		l.Items = []model.Record{}
	}
	w.Header().Set("ETag", etag(z))
	writeJSON(w, http.StatusOK, l)
}

// recordsBody is the JSON body of the records routes.
type recordsBody struct {
	Records []model.Record `json:"records"`
}

// putRecords replaces the zone's records with a JSON list.
func (s *Server) putRecords(w http.ResponseWriter, r *http.Request) {
	var body recordsBody
	if err := decodeJSON(w, r, s.cfg.MaxApplyBody, &body); err != nil {
		s.problem(w, r, err)
		return
	}
	normalizeRecords(body.Records)
	s.setRecords(w, r, fmt.Sprintf("records replaced (%d)", len(body.Records)), func(*model.Zone) ([]model.Record, error) {
		return body.Records, nil
	})
}

// postRecords imports a zone file (text/dns), replacing the zone's
// records, or adds the records of a JSON list (application/json).
func (s *Server) postRecords(w http.ResponseWriter, r *http.Request) {
	accepted := []string{mediaJSON}
	if s.cfg.ParseZone != nil {
		accepted = append(accepted, mediaDNS)
	}
	mt, err := mediaType(r, accepted...)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if mt == mediaJSON {
		var body recordsBody
		if err := decodeJSON(w, r, s.cfg.MaxApplyBody, &body); err != nil {
			s.problem(w, r, err)
			return
		}
		normalizeRecords(body.Records)
		s.setRecords(w, r, fmt.Sprintf("records added (%d)", len(body.Records)), func(z *model.Zone) ([]model.Record, error) {
			return append(z.Records, body.Records...), nil
		})
		return
	}
	data, err := readBody(w, r, s.cfg.MaxApplyBody)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.setRecords(w, r, "records replaced from a zone file", func(z *model.Zone) ([]model.Record, error) {
		recs, err := s.cfg.ParseZone(bytes.NewReader(data), z.Name, "", z.EffectiveTTL())
		if err != nil {
			return nil, &invalidError{err}
		}
		return recs, nil
	})
}

// setRecords writes the zone with the records recs returns for the
// stored zone, honouring If-Match on the zone: 200 with the zone.
func (s *Server) setRecords(w http.ResponseWriter, r *http.Request, detail string, recs func(*model.Zone) ([]model.Record, error)) {
	name, err := zoneName(r)
	var m ifMatch
	if err == nil {
		m, err = parseIfMatch(r)
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	z := &model.Zone{}
	fill := func(_ store.Tx, old model.Object) error {
		if old == nil {
			return fmt.Errorf("zone %q: %w", name, store.ErrNotFound)
		}
		*z = *old.(*model.Zone)
		list, err := recs(z)
		if err != nil {
			return err
		}
		z.Records = list
		return nil
	}
	res, err := s.write(r.Context(), op{mode: modeReplace, kind: model.KindZone, name: name, obj: z, ifMatch: m, prepare: fill, detail: detail})
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeStored(w, http.StatusOK, res.obj)
}
