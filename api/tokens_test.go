package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

func TestTokenRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.post("/api/v1/tokens", map[string]any{"name": "ci", "role": "read"}).want(201)
	var c struct {
		model.Token
		Secret string `json:"secret"`
	}
	r.decode(&c)
	if r.Header.Get("Location") != "/api/v1/tokens/ci" || c.Name != "ci" || c.Role != model.RoleRead || c.Hash != "" {
		t.Fatalf("created = %+v, %s", c, r.Body)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(c.Secret, SecretPrefix))
	if err != nil || len(raw) < 16 {
		t.Errorf("secret %q: %d random bytes, want at least 16 (128 bits)", c.Secret, len(raw))
	}

	// Only the hex SHA-256 of the secret is stored.
	var stored *model.Token
	_ = e.st.View(t.Context(), func(tx store.Tx) error {
		stored, err = store.Get[model.Token](tx, "ci")
		return err
	})
	sum := sha256.Sum256([]byte(c.Secret))
	if err != nil || stored.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("stored %+v (%v), want the hash of the secret", stored, err)
	}

	// Secrets and hashes never leave again: not in lists, gets or events.
	for _, body := range [][]byte{e.get("/api/v1/tokens").want(200).Body, e.get("/api/v1/tokens/ci").want(200).Body} {
		if strings.Contains(string(body), c.Secret) || strings.Contains(string(body), stored.Hash) || strings.Contains(string(body), `"hash"`) {
			t.Errorf("a token answer holds the secret or the hash: %s", body)
		}
	}
	for _, ev := range e.events() {
		if strings.Contains(ev.After+ev.Before, stored.Hash) || strings.Contains(ev.After+ev.Before, c.Secret) {
			t.Errorf("event %d holds the secret or the hash", ev.Seq)
		}
	}

	e.post("/api/v1/tokens", map[string]any{"name": "ci", "role": "read"}).want(409)
	e.post("/api/v1/tokens", map[string]any{"name": "x", "role": "root"}).want(422)
	e.post("/api/v1/tokens", map[string]any{"name": "bad name", "role": "read"}).want(422)
	e.post("/api/v1/tokens", map[string]any{"name": "x", "role": "read", "hash": strings.Repeat("0", 64)}).want(400)
	e.get("/api/v1/tokens/nobody").want(404)
	e.del("/api/v1/tokens/ci").want(204)
	e.del("/api/v1/tokens/ci").want(404)
}
