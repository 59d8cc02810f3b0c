package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Fleet is the health engine behind the checker fleet's routes (cmd
// passes an adapter around *fleet.Engine). A nil Fleet answers those
// routes 503.
type Fleet interface {
	// Jobs is the check list every checker runs.
	Jobs(ctx context.Context) ([]model.Job, error)
	// Record stores one checker's report; an error wrapping
	// model.ErrInvalid is the report's fault (422).
	Record(ctx context.Context, rep model.Report) error
	// Availability and Status are JSON-able reports.
	Availability(ctx context.Context) (any, error)
	Status(ctx context.Context) (any, error)
}

// fleet returns the configured Fleet, or answers 503 and returns nil.
func (s *Server) fleet(w http.ResponseWriter, r *http.Request) Fleet {
	if s.cfg.Fleet == nil {
		s.problem(w, r, problemf(http.StatusServiceUnavailable, typeUnavailable, "this server runs no health engine"))
	}
	return s.cfg.Fleet
}

// listChecks serves GET /api/v1/checks: {"items": [jobs]}, with an ETag
// that is a hash of the body, so that agents polling it every interval
// get 304 while nothing changed.
func (s *Server) listChecks(w http.ResponseWriter, r *http.Request) {
	f := s.fleet(w, r)
	if f == nil {
		return
	}
	jobs, err := f.Jobs(r.Context())
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if jobs == nil {
		jobs = []model.Job{}
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(List[model.Job]{Items: jobs}); err != nil {
		s.problem(w, r, err)
		return
	}
	sum := sha256.Sum256(buf.Bytes())
	tag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache")
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// noneMatch reports whether If-None-Match header h names tag ("*", or a
// list of tags compared weakly, as RFC 9110 asks for GET).
func noneMatch(h, tag string) bool {
	if h = strings.TrimSpace(h); h == "" {
		return false
	}
	if h == "*" {
		return true
	}
	for _, t := range strings.Split(h, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == tag {
			return true
		}
	}
	return false
}

// postReport serves POST /api/v1/checkers/{name}/report: the body is a
// model.Report whose checker.name is the path's (taken from the path
// when empty; 422 when another). 204 once recorded.
func (s *Server) postReport(w http.ResponseWriter, r *http.Request) {
	f := s.fleet(w, r)
	if f == nil {
		return
	}
	name := pathParam(r, "name")
	var rep model.Report
	if err := decodeJSON(w, r, s.cfg.MaxBody, &rep); err != nil {
		s.problem(w, r, err)
		return
	}
	if rep.Checker.Name == "" {
		rep.Checker.Name = name
	}
	if rep.Checker.Name != name {
		p := problemf(http.StatusUnprocessableEntity, typeInvalid, "the body reports for checker %q but the path names %q", rep.Checker.Name, name)
		p.Errors = []FieldError{{Field: "checker.name", Message: "does not match the path"}}
		s.problem(w, r, p)
		return
	}
	if err := f.Record(r.Context(), rep); err != nil {
		s.problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listVerdicts serves GET /api/v1/verdicts[?service=]: the stored
// verdicts, paged, in name order. service is a service's key
// ("app.example.com./A") or a name for all its types.
func (s *Server) listVerdicts(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	prefix := ""
	if svc := r.URL.Query().Get("service"); svc != "" {
		name, typ, hasType := strings.Cut(svc, "/")
		if !model.ValidName(name) {
			s.problem(w, r, badParam("service", "%q is not a service name (name or name/TYPE)", svc))
			return
		}
		prefix = model.CanonicalName(name) + "/"
		if hasType {
			prefix = model.ServiceKey(name, strings.ToUpper(typ)) + "|"
		}
	}
	after := max(p.after, prefix) // names with the prefix sort after it
	var items []model.Verdict
	stop := errors.New("stop")
	err = s.st.View(r.Context(), func(tx store.Tx) error {
		items = items[:0]
		err := tx.List(model.KindVerdict, after, 0, func(key string, b []byte) error {
			if !strings.HasPrefix(key, prefix) || len(items) > p.limit {
				return stop
			}
			var v model.Verdict
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			items = append(items, v)
			return nil
		})
		if errors.Is(err, stop) {
			return nil
		}
		return err
	})
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, finish(items, p.limit, func(v model.Verdict) string { return v.ObjectName() }))
}

// availability serves GET /api/v1/availability.
func (s *Server) availability(w http.ResponseWriter, r *http.Request) {
	if f := s.fleet(w, r); f != nil {
		s.report(w, r, f.Availability)
	}
}

// status serves GET /api/v1/status.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if f := s.fleet(w, r); f != nil {
		s.report(w, r, f.Status)
	}
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, fn func(context.Context) (any, error)) {
	v, err := fn(r.Context())
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
