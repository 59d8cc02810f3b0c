package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Services are stored under "name./TYPE", like RRsets. The routes
// address them by name, with ?type= to choose among a name's services.

func serviceLocation(svc *model.Service) string {
	return "/api/v1/services/" + url.PathEscape(svc.Name) + "?type=" + svc.Type
}

// serviceAddress reads {name} and ?type= in canonical form; typ is ""
// when the query gives none.
func serviceAddress(r *http.Request) (name, typ string, err error) {
	name = pathParam(r, "name")
	if !model.ValidName(name) || name == "." {
		return "", "", badParam("name", "%q is not a domain name", name)
	}
	typ = strings.ToUpper(r.URL.Query().Get("type"))
	switch typ {
	case "", "A", "AAAA", "CNAME":
	default:
		return "", "", badParam("type", "%q is not A, AAAA or CNAME", typ)
	}
	return model.CanonicalName(name), typ, nil
}

// serviceKey finds the stored name of the service the request means:
// the one of its type, or the only one of its name. Ambiguity is 400,
// no service 404.
func serviceKey(tx store.Tx, name, typ string) (string, error) {
	if typ != "" {
		return model.ServiceKey(name, typ), nil
	}
	var keys []string
	stop := errors.New("stop")
	prefix := name + "/"
	err := tx.List(model.KindService, prefix, 0, func(key string, _ []byte) error {
		if !strings.HasPrefix(key, prefix) {
			return stop
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return "", err
	}
	switch len(keys) {
	case 0:
		return "", problemf(http.StatusNotFound, typeNotFound, "no service is named %s", name)
	case 1:
		return keys[0], nil
	}
	types := make([]string, len(keys))
	for i, k := range keys {
		types[i] = strings.TrimPrefix(k, prefix)
	}
	return "", badParam("type", "%s has services of types %s: add ?type= to choose one", name, strings.Join(types, ", "))
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, model.KindService)
}

func (s *Server) createService(w http.ResponseWriter, r *http.Request) {
	obj, err := s.decodeObject(w, r, model.KindService)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.create(w, r, obj, serviceLocation(obj.(*model.Service)))
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	key, err := s.serviceKeyOf(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.get(w, r, model.KindService, key)
}

// putService creates or replaces the service of {name} and the body's
// type (?type=, when given, must agree with it).
func (s *Server) putService(w http.ResponseWriter, r *http.Request) {
	name, typ, err := serviceAddress(r)
	var obj model.Object
	if err == nil {
		obj, err = s.decodeObject(w, r, model.KindService)
	}
	if err == nil {
		err = nameFromPath(obj, name)
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	svc := obj.(*model.Service)
	if svc.Type == "" {
		svc.Type = typ
	}
	if typ != "" && svc.Type != typ {
		p := problemf(http.StatusUnprocessableEntity, typeInvalid, "the body has type %q but the query %q", svc.Type, typ)
		p.Errors = []FieldError{{Field: "type", Message: "does not match ?type="}}
		s.problem(w, r, p)
		return
	}
	s.replace(w, r, op{kind: model.KindService, name: svc.ObjectName(), obj: svc}, serviceLocation(svc))
}

func (s *Server) deleteService(w http.ResponseWriter, r *http.Request) {
	key, err := s.serviceKeyOf(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.remove(w, r, model.KindService, key)
}

func (s *Server) serviceKeyOf(r *http.Request) (string, error) {
	name, typ, err := serviceAddress(r)
	if err != nil {
		return "", err
	}
	var key string
	err = s.st.View(r.Context(), func(tx store.Tx) error {
		key, err = serviceKey(tx, name, typ)
		return err
	})
	return key, err
}
