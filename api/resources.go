package api

import (
	"net/http"
	"net/url"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// namedKind is a kind addressed by its plain name under /api/v1/<plural>.
type namedKind struct {
	kind   model.Kind
	plural string
}

var (
	regions     = namedKind{model.KindRegion, "regions"}
	datacenters = namedKind{model.KindDatacenter, "datacenters"}
)

func (k namedKind) location(name string) string {
	return "/api/v1/" + k.plural + "/" + url.PathEscape(name)
}

func (s *Server) listNamed(k namedKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.list(w, r, k.kind) }
}

func (s *Server) getNamed(k namedKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.get(w, r, k.kind, pathParam(r, "name")) }
}

func (s *Server) createNamed(k namedKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		obj, err := s.decodeObject(w, r, k.kind)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		s.create(w, r, obj, k.location(obj.ObjectName()))
	}
}

func (s *Server) putNamed(k namedKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := pathParam(r, "name")
		obj, err := s.decodeObject(w, r, k.kind)
		if err == nil {
			err = nameFromPath(obj, name)
		}
		if err != nil {
			s.problem(w, r, err)
			return
		}
		s.replace(w, r, op{kind: k.kind, name: name, obj: obj}, k.location(name))
	}
}

func (s *Server) deleteNamed(k namedKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.remove(w, r, k.kind, pathParam(r, "name")) }
}

// decodeObject decodes a body into a new object of kind, normalized.
func (s *Server) decodeObject(w http.ResponseWriter, r *http.Request, kind model.Kind) (model.Object, error) {
	obj, err := newObject(kind)
	if err != nil {
		return nil, err
	}
	if err := decodeJSON(w, r, s.cfg.MaxBody, obj); err != nil {
		return nil, err
	}
	normalize(obj)
	return obj, nil
}

// nameFromPath gives obj the name of the path when its body has none,
// and refuses a body that names another object.
func nameFromPath(obj model.Object, name string) error {
	var field *string
	switch o := obj.(type) {
	case *model.Region:
		field = &o.Name
	case *model.Datacenter:
		field = &o.Name
	case *model.Zone:
		field = &o.Name
	case *model.Service:
		field = &o.Name
	case *model.Webhook:
		field = &o.Name
	default:
		return nil
	}
	if *field == "" {
		*field = name
		normalize(obj)
	}
	if *field != name {
		p := problemf(http.StatusUnprocessableEntity, typeInvalid, "the body names %q but the path %q", *field, name)
		p.Errors = []FieldError{{Field: "name", Message: "does not match the path"}}
		return p
	}
	return nil
}

// list answers one page of kind.
func (s *Server) list(w http.ResponseWriter, r *http.Request, kind model.Kind) {
	p, err := pageOf(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	var items []model.Object
	err = s.st.View(r.Context(), func(tx store.Tx) error {
		items, err = listObjects(tx, kind, p)
		return err
	})
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, finish(items, p.limit, model.Object.ObjectName))
}

// get answers kind/name with its ETag.
func (s *Server) get(w http.ResponseWriter, r *http.Request, kind model.Kind, name string) {
	var obj model.Object
	err := s.st.View(r.Context(), func(tx store.Tx) error {
		var err error
		obj, err = getObject(tx, kind, name)
		return err
	})
	switch {
	case err != nil:
		s.problem(w, r, err)
	case obj == nil:
		s.problem(w, r, problemf(http.StatusNotFound, typeNotFound, "%s %q does not exist", kind, name))
	default:
		writeStored(w, http.StatusOK, redact(obj))
	}
}

// create stores a new object: 201 with its Location, or 409 when it
// exists.
func (s *Server) create(w http.ResponseWriter, r *http.Request, obj model.Object, location string) {
	res, err := s.write(r.Context(), op{mode: modeCreate, kind: obj.ObjectKind(), name: obj.ObjectName(), obj: obj})
	if err != nil {
		s.problem(w, r, err)
		return
	}
	w.Header().Set("Location", location)
	writeStored(w, http.StatusCreated, res.obj)
}

// replace creates or replaces o.obj under o.name, honouring If-Match:
// 201 when it was created, 200 when replaced.
func (s *Server) replace(w http.ResponseWriter, r *http.Request, o op, location string) {
	m, err := parseIfMatch(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	o.mode, o.ifMatch = modeReplace, m
	res, err := s.write(r.Context(), o)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	status := http.StatusOK
	if res.created {
		status = http.StatusCreated
		w.Header().Set("Location", location)
	}
	writeStored(w, status, res.obj)
}

// remove deletes kind/name, honouring If-Match: 204.
func (s *Server) remove(w http.ResponseWriter, r *http.Request, kind model.Kind, name string) {
	m, err := parseIfMatch(r)
	if err == nil {
		_, err = s.write(r.Context(), op{mode: modeDelete, kind: kind, name: name, ifMatch: m})
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeStored answers a stored object with its ETag.
func writeStored(w http.ResponseWriter, status int, obj model.Object) {
	w.Header().Set("ETag", etag(obj))
	writeJSON(w, status, redact(obj))
}
