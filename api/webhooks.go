package api

import (
	"net/http"
	"net/url"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Webhooks (the state file's notify entries) are called by the health
// engine on verdict changes. Their secret signs the calls: it is written,
// never read back. Responses and audit events carry has_secret instead.

// webhookBody is what POST and PUT take. Secret is a pointer so that a
// PUT without it keeps the stored secret, while "secret": "" removes it.
// revision, managed_by and has_secret are accepted (a GET's answer can be
// sent back) and ignored.
type webhookBody struct {
	Name      string  `json:"name"`
	URL       string  `json:"url"`
	Secret    *string `json:"secret"`
	Revision  int64   `json:"revision"`
	ManagedBy string  `json:"managed_by"`
	HasSecret bool    `json:"has_secret"`
}

// webhookView is a webhook as the API shows it: without its secret.
type webhookView struct {
	model.Webhook
	HasSecret bool `json:"has_secret"`
}

func viewWebhook(w *model.Webhook) *webhookView {
	v := &webhookView{Webhook: *w, HasSecret: w.Secret != ""}
	v.Secret = ""
	return v
}

func webhookLocation(name string) string { return "/api/v1/webhooks/" + url.PathEscape(name) }

func (s *Server) decodeWebhook(w http.ResponseWriter, r *http.Request) (*model.Webhook, bool, error) {
	var b webhookBody
	if err := decodeJSON(w, r, s.cfg.MaxBody, &b); err != nil {
		return nil, false, err
	}
	h := &model.Webhook{Name: b.Name, URL: b.URL}
	if b.Secret != nil {
		h.Secret = *b.Secret
	}
	return h, b.Secret != nil, nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, model.KindWebhook)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	s.get(w, r, model.KindWebhook, pathParam(r, "name"))
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	h, _, err := s.decodeWebhook(w, r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if h.Name == "" && h.URL != "" {
		h.Name = model.WebhookName(h.URL) // as the state file names it
	}
	s.create(w, r, h, webhookLocation(h.Name))
}

// putWebhook creates or replaces a webhook; without "secret" in the body
// the stored secret is kept.
func (s *Server) putWebhook(w http.ResponseWriter, r *http.Request) {
	name := pathParam(r, "name")
	h, hasSecret, err := s.decodeWebhook(w, r)
	if err == nil {
		err = nameFromPath(h, name)
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	keep := func(_ store.Tx, old model.Object) error {
		if !hasSecret {
			h.Secret = "" // not one a previous run (a store retry) kept
			if o, ok := old.(*model.Webhook); ok {
				h.Secret = o.Secret
			}
		}
		return nil
	}
	s.replace(w, r, op{kind: model.KindWebhook, name: name, obj: h, prepare: keep}, webhookLocation(name))
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.remove(w, r, model.KindWebhook, pathParam(r, "name"))
}
