package api

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/meridian-gslb/meridian/store/model"
)

// defaultResolver is the resolver address of an explained query whose
// client is a prefix (sent as ECS) and that names no ?resolver=, as in
// the explain command.
var defaultResolver = netip.MustParseAddr("127.0.0.1")

// explain serves GET /api/v1/explain?name=&type=&client=[&resolver=]:
// how the DNS server answers that query now, step by step. client is the
// resolver's address, or a prefix sent as EDNS Client Subnet from
// resolver.
func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Explain == nil {
		s.problem(w, r, problemf(http.StatusNotImplemented, typeNotImplemented, "this server has no DNS snapshot to explain"))
		return
	}
	q := r.URL.Query()
	name := q.Get("name")
	if !model.ValidName(name) {
		s.problem(w, r, badParam("name", "%q is not a domain name", name))
		return
	}
	typ := strings.ToUpper(q.Get("type"))
	if typ == "" {
		typ = "A"
	}
	if !isTypeMnemonic(typ) {
		s.problem(w, r, badParam("type", "%q is not a query type", typ))
		return
	}
	client, ecs, err := clientOf(q.Get("client"), q.Get("resolver"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	e, err := s.cfg.Explain(r.Context(), model.CanonicalName(name), typ, client, ecs)
	if err != nil {
		s.problem(w, r, problemf(http.StatusServiceUnavailable, typeUnavailable, "cannot explain now: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// routing serves GET /api/v1/routing: for every service and region, the
// data centers and endpoints that region's clients are sent to now (see
// dnsserver.Snapshot.Routing), in {"services": [...]}.
func (s *Server) routing(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Routing == nil {
		s.problem(w, r, problemf(http.StatusNotImplemented, typeNotImplemented, "this server has no DNS snapshot to route from"))
		return
	}
	v, err := s.cfg.Routing(r.Context())
	if err != nil {
		s.problem(w, r, problemf(http.StatusServiceUnavailable, typeUnavailable, "cannot tell the routing now: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Services any `json:"services"`
	}{v})
}

// clientOf reads ?client= (an address, or a prefix for ECS) and
// ?resolver=.
func clientOf(client, resolver string) (netip.Addr, netip.Prefix, error) {
	if client == "" {
		return netip.Addr{}, netip.Prefix{}, badParam("client", "required: an IP address, or a prefix sent as EDNS Client Subnet")
	}
	if !strings.Contains(client, "/") {
		if resolver != "" {
			return netip.Addr{}, netip.Prefix{}, badParam("resolver", "only with a client prefix")
		}
		a, err := netip.ParseAddr(client)
		if err != nil {
			return netip.Addr{}, netip.Prefix{}, badParam("client", "%q is not an IP address or a prefix", client)
		}
		return a.Unmap(), netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(client)
	if err != nil {
		return netip.Addr{}, netip.Prefix{}, badParam("client", "%q is not an IP address or a prefix", client)
	}
	if p.Masked() != p {
		return netip.Addr{}, netip.Prefix{}, badParam("client", "%s has bits set past the prefix length (ECS forbids it); did you mean %s?", p, p.Masked())
	}
	res := defaultResolver
	if resolver != "" {
		if res, err = netip.ParseAddr(resolver); err != nil {
			return netip.Addr{}, netip.Prefix{}, badParam("resolver", "%q is not an IP address", resolver)
		}
	}
	return res, p, nil
}

// isTypeMnemonic accepts what could name a DNS type: letters and digits,
// starting with a letter ("A", "AAAA", "TYPE65"). The DNS side decides
// whether it knows it.
func isTypeMnemonic(s string) bool {
	if s == "" || len(s) > 16 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
