package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// SecretPrefix starts every token secret, so that a leaked one is easy
// to recognise (and to scan for).
const SecretPrefix = "mer_"

// BootstrapTokenName is the admin token Bootstrap creates.
const BootstrapTokenName = "admin"

// newSecret returns a fresh secret: the prefix and 32 random bytes (256
// bits), base64url.
func newSecret() string {
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return b
}

// tokenBody is what POST /api/v1/tokens takes.
type tokenBody struct {
	Name string     `json:"name"`
	Role model.Role `json:"role"`
}

// createdToken is the answer to a token's creation: the only time its
// secret is shown.
type createdToken struct {
	*model.Token
	Secret string `json:"secret"`
}

func tokenLocation(name string) string { return "/api/v1/tokens/" + url.PathEscape(name) }

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) { s.list(w, r, model.KindToken) }

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) {
	s.get(w, r, model.KindToken, pathParam(r, "name"))
}

// deleteToken revokes a token: requests carrying it get 401 from now on.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	s.remove(w, r, model.KindToken, pathParam(r, "name"))
}

// createToken stores a new token's hash and answers its secret, once.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var body tokenBody
	if err := decodeJSON(w, r, s.cfg.MaxBody, &body); err != nil {
		s.problem(w, r, err)
		return
	}
	secret := newSecret()
	t := &model.Token{Name: body.Name, Role: body.Role, Hash: hex.EncodeToString(hashSecret(secret)), CreatedAt: time.Now().UTC()}
	res, err := s.write(r.Context(), op{mode: modeCreate, kind: model.KindToken, name: t.Name, obj: t})
	if err != nil {
		s.problem(w, r, err)
		return
	}
	w.Header().Set("Location", tokenLocation(t.Name))
	w.Header().Set("ETag", etag(res.obj))
	writeJSON(w, http.StatusCreated, createdToken{Token: redact(res.obj).(*model.Token), Secret: secret})
}

// Bootstrap makes sure an operator can get in. With Config.AdminToken
// set, or with an admin token already stored, it does nothing and
// returns "". Otherwise it creates the admin token "admin" (or "admin-N"
// when that name is taken by a token of another role) and returns its
// secret, for cmd to print once: only its hash is stored.
func (s *Server) Bootstrap(ctx context.Context) (string, error) {
	if s.cfg.AdminToken != "" {
		return "", nil
	}
	secret := newSecret()
	created := false
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		created = false
		tokens, err := store.List[model.Token](tx)
		if err != nil {
			return err
		}
		taken := map[string]bool{}
		for _, t := range tokens {
			if t.Role == model.RoleAdmin {
				return nil
			}
			taken[t.Name] = true
		}
		name := BootstrapTokenName
		for i := 2; taken[name]; i++ {
			name = fmt.Sprintf("%s-%d", BootstrapTokenName, i)
		}
		t := &model.Token{
			Meta: model.Meta{ManagedBy: model.SourceAPI}, Name: name, Role: model.RoleAdmin,
			Hash: hex.EncodeToString(hashSecret(secret)), CreatedAt: time.Now().UTC(),
		}
		if err := store.Put(tx, t, -1); err != nil {
			return err
		}
		created = true
		return store.AppendEvent(tx, &model.Event{
			Type: "create", Object: objectRef(model.KindToken, name), Actor: "bootstrap",
			Detail: "first start: no admin token", After: auditJSON(t),
		})
	})
	if err != nil || !created {
		return "", err
	}
	return secret, nil
}
