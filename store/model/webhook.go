package model

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
)

// Webhook is an alert receiver called on every verdict change, with a JSON
// body signed by HMAC-SHA256 over Secret. In the state file it is an entry
// of `notify: [{url, secret}]`; its name defaults to WebhookName(url).
type Webhook struct {
	Meta
	Name   string `json:"name" yaml:"name,omitempty"`
	URL    string `json:"url" yaml:"url"`
	Secret string `json:"secret,omitempty" yaml:"secret,omitempty"`
}

func (w *Webhook) ObjectKind() Kind   { return KindWebhook }
func (w *Webhook) ObjectName() string { return w.Name }

// WebhookName is the default name of the webhook calling u: "hook-" and
// the first 12 hex digits of its SHA-256, stable however the list is
// ordered.
func WebhookName(u string) string {
	sum := sha256.Sum256([]byte(u))
	return "hook-" + hex.EncodeToString(sum[:6])
}

func (w *Webhook) Validate() error {
	if !validIdent(w.Name) {
		return invalid(KindWebhook, w.Name, "name", "use letters, digits, '-' and '_' (at most 63)")
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(KindWebhook, w.Name, "url", "%q is not an http or https URL", w.URL)
	}
	if len(w.Secret) > 0 && len(w.Secret) < 16 {
		return invalid(KindWebhook, w.Name, "secret", "use at least 16 characters (or none)")
	}
	return nil
}
