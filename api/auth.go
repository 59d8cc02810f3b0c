package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// EnvAdminActor is the actor name of requests made with Config.AdminToken.
const EnvAdminActor = "env-admin"

// principal is who made a request: a token's name and role.
type principal struct {
	name string
	role model.Role
}

type principalKey struct{}

func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// class is what a route does, for authorization.
type class int

const (
	classRead    class = iota // GET of configuration, events, stream, explain
	classWrite                // every change, and apply
	classChecker              // the checker fleet's routes
	classTokens               // API tokens
)

// allows is the access matrix of the README: a read token may read the
// checker fleet's routes but not report to them.
func (c class) allows(role model.Role, method string) bool {
	switch role {
	case model.RoleAdmin:
		return true
	case model.RoleRead:
		return c == classRead || c == classChecker && (method == http.MethodGet || method == http.MethodHead)
	case model.RoleChecker:
		return c == classChecker
	}
	return false
}

// authenticate finds the bearer token's principal or answers 401.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		secret = strings.TrimSpace(secret)
		if !strings.EqualFold(scheme, "Bearer") || secret == "" {
			s.problem(w, r, problemf(http.StatusUnauthorized, typeUnauthorized, "send a token as Authorization: Bearer <token>"))
			return
		}
		src := sourceOf(r)
		if wait, limited := s.authLimit.blocked(src); limited {
			s.tooMany(w, r, wait)
			return
		}
		p, ok, err := s.lookup(r.Context(), secret)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		if !ok {
			last := s.authLimit.fail(src)
			s.auditDenied(r, "auth_denied", src, "a token that is not valid (wrong, or revoked)")
			if last {
				s.auditDenied(r, "auth_limited", src, "too many failed authentications: further requests get 429 for a while")
				s.log.Warn("api: too many failed authentications; limiting the address", "source", src)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="meridian", error="invalid_token"`)
			s.problem(w, r, problemf(http.StatusUnauthorized, typeUnauthorized, "the token is not valid (wrong, or revoked)"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// allow answers 403 unless the principal's role may use routes of c.
func (s *Server) allow(c class) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := principalOf(r.Context())
			if !c.allows(p.role, r.Method) {
				s.auditDenied(r, "access_denied", p.name, fmt.Sprintf("role %s may not %s this route", p.role, r.Method))
				s.problem(w, r, problemf(http.StatusForbidden, typeForbidden, "token %q has role %s, which may not %s %s", p.name, p.role, r.Method, r.URL.Path))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// lookup finds the token whose hash is the secret's. Every stored hash
// is compared, in constant time, so timing tells nothing of which
// prefix matched.
func (s *Server) lookup(ctx context.Context, secret string) (principal, bool, error) {
	h := hashSecret(secret)
	if s.envHash != nil && subtle.ConstantTimeCompare(h, s.envHash) == 1 {
		return principal{name: EnvAdminActor, role: model.RoleAdmin}, true, nil
	}
	var found principal
	ok := false
	err := s.st.View(ctx, func(tx store.Tx) error {
		return tx.List(model.KindToken, "", 0, func(name string, b []byte) error {
			var t model.Token
			if err := json.Unmarshal(b, &t); err != nil {
				return fmt.Errorf("api: decoding token %q: %w", name, err)
			}
			stored, err := hex.DecodeString(t.Hash)
			if err == nil && subtle.ConstantTimeCompare(h, stored) == 1 {
				found, ok = principal{name: t.Name, role: t.Role}, true
			}
			return nil
		})
	})
	return found, ok, err
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// whoami serves GET /api/v1/whoami: the caller's token name and role, so
// that a client (the dashboard) can tell what it may do without trying a
// route it may not — which would be a denied attempt in the audit log.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"name": p.name, "role": string(p.role)})
}
