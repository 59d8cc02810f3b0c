// Package client is a small Go client of Meridian's REST API (/api/v1/),
// used by the meridian command line. It speaks the API's JSON, follows
// list pagination, and turns error answers into *Problem (RFC 9457) and
// failures to reach the server into *NetworkError, so that callers can
// tell "the server said no" from "there was no server".
//
// It imports only store/model: the server's package api is not needed to
// talk to it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/api/wire"
	"github.com/meridian-gslb/meridian/store/model"
)

// DefaultServer is the API's address when none is given: the HTTP
// listener of the bundled example config.
const DefaultServer = "http://127.0.0.1:8053"

// maxResponse bounds how much of an answer is read (a whole state's
// apply diff is the largest).
const maxResponse = 256 << 20

// Client talks to one Meridian server with one token. It is safe for
// concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	// UserAgent is sent with every request.
	UserAgent string
}

// New returns a client of the server at server ("http://host:port",
// "https://…"; a bare "host:port" means http) authenticating with token.
// httpClient may be nil for one with a 60 s timeout.
func New(server, token string, httpClient *http.Client) (*Client, error) {
	u, err := ParseServer(server)
	if err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{base: u, token: token, http: httpClient, UserAgent: "meridian-client"}, nil
}

// ParseServer reads a server address: a URL with scheme http or https
// and a host, or a bare host:port (http). A path prefix is kept, for a
// server behind a reverse proxy.
func ParseServer(server string) (*url.URL, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		s = DefaultServer
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("server %q is not a URL: %v", server, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server %q: the scheme must be http or https", server)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server %q has no host", server)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server %q: give the server's address only, without a query", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Server is the server's base URL as the client uses it.
func (c *Client) Server() string { return c.base.String() }

// Problem and FieldError are the API's error contract, defined once in
// package wire for the server and the client.
type (
	Problem    = wire.Problem
	FieldError = wire.FieldError
)

// NetworkError is a request that got no HTTP answer: the server cannot
// be reached, refused the connection, timed out or broke off.
type NetworkError struct {
	Server string
	Err    error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("cannot reach the server at %s: %v", e.Server, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// IsStatus reports whether err is a *Problem with that status.
func IsStatus(err error, status int) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == status
}

// Request is one API call.
type Request struct {
	Method string
	// Path is under the base URL, starting with /api/v1/. Segments that
	// are names must be escaped by the caller (see Segment).
	Path  string
	Query url.Values
	// Body is sent as JSON when it is not nil.
	Body any
	// Header holds extra request headers (If-Match).
	Header http.Header
}

// Response is an API answer with a 2xx status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends r and returns the answer when its status is 2xx. Any other
// status is a *Problem; no answer at all is a *NetworkError.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	target := c.base.Scheme + "://" + c.base.Host + c.base.EscapedPath() + r.Path
	if len(r.Query) > 0 {
		target += "?" + r.Query.Encode()
	}
	var body io.Reader
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, ctx.Err()
		}
		return nil, &NetworkError{Server: c.Server(), Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, &NetworkError{Server: c.Server(), Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, problemOf(resp, data)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// unwrapURLError drops *url.Error's "Get "http://…": " prefix: the
// NetworkError names the server already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func problemOf(resp *http.Response, data []byte) *Problem {
	p := &Problem{}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if (ct == "application/problem+json" || ct == "application/json") && json.Unmarshal(data, p) == nil && p.Title != "" {
		if p.Status == 0 {
			p.Status = resp.StatusCode
		}
		return p
	}
	p = &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
	if p.Title == "" {
		p.Title = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 300 {
		text = text[:300] + "…"
	}
	p.Detail = text
	return p
}

// Segment escapes one path segment: a name, a type, an address.
func Segment(s string) string { return url.PathEscape(s) }

// GetJSON gets path and decodes the answer into out.
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, out any) error {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path, Query: query})
	if err != nil {
		return err
	}
	return decode(resp.Body, out)
}

func decode(data []byte, out any) error {
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the server's answer is not the JSON expected: %w", err)
	}
	return nil
}

// page is one page of a list.
type page struct {
	Items []json.RawMessage `json:"items"`
	Next  string            `json:"next"`
}

// List gets every item of the list at path (a collection such as
// /api/v1/datacenters, or /api/v1/events with its filters in query),
// following the next cursors, and stops after maxItems items when
// maxItems > 0.
func (c *Client) List(ctx context.Context, path string, query url.Values, maxItems int) ([]json.RawMessage, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	var items []json.RawMessage
	for {
		limit := MaxPageSize
		if maxItems > 0 && maxItems-len(items) < limit {
			limit = maxItems - len(items)
		}
		q.Set("limit", strconv.Itoa(limit))
		var p page
		if err := c.GetJSON(ctx, path, q, &p); err != nil {
			return nil, err
		}
		items = append(items, p.Items...)
		if p.Next == "" || len(p.Items) == 0 || (maxItems > 0 && len(items) >= maxItems) {
			break
		}
		if q.Get("after") == p.Next {
			return nil, fmt.Errorf("the server answered the same page twice (cursor %q)", p.Next)
		}
		q.Set("after", p.Next)
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return items, nil
}

// MaxPageSize is the largest ?limit= the API takes.
const MaxPageSize = 1000

// CollectionPath is the list route of kind: /api/v1/datacenters.
func CollectionPath(kind model.Kind) string { return "/api/v1/" + string(kind) + "s" }

// ObjectPath is the route of one object and the query it needs. A
// service is named "name" or "name/TYPE" (its stored name); an override
// by its target, "datacenter/NAME" or "endpoint/SERVICE/TYPE/ADDRESS".
func ObjectPath(kind model.Kind, name string) (string, url.Values) {
	switch kind {
	case model.KindService:
		n, typ, ok := strings.Cut(name, "/")
		if ok {
			return CollectionPath(kind) + "/" + Segment(n), url.Values{"type": {typ}}
		}
	case model.KindOverride:
		parts := strings.Split(name, "/")
		for i := range parts {
			parts[i] = Segment(parts[i])
		}
		return CollectionPath(kind) + "/" + strings.Join(parts, "/"), nil
	}
	return CollectionPath(kind) + "/" + Segment(name), nil
}

// ApplyResult is the answer of POST /api/v1/apply. Before and After are
// the objects' JSON as the server sent them.
type ApplyResult struct {
	DryRun   bool     `json:"dry_run"`
	Revision int64    `json:"revision"`
	Summary  string   `json:"summary"`
	Changes  []Change `json:"changes"`
	// Kept lists, as kind/name, the objects of other sources the applied
	// state does not name; they were left alone.
	Kept []string `json:"kept"`
}

// Change is one write of an apply.
type Change struct {
	Action string          `json:"action"` // create, update, delete, adopt
	Kind   model.Kind      `json:"kind"`
	Name   string          `json:"name"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Apply makes the objects that applies manage match desired (or, with
// dryRun, says what that would change).
func (c *Client) Apply(ctx context.Context, desired *model.State, dryRun bool) (*ApplyResult, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/apply",
		Query: url.Values{"dry_run": {strconv.FormatBool(dryRun)}}, Body: desired})
	if err != nil {
		return nil, err
	}
	var res ApplyResult
	return &res, decode(resp.Body, &res)
}

// SetOverride sets the override of target (datacenter/NAME or
// endpoint/SERVICE/TYPE/ADDRESS), replacing any; replaced says whether
// one was there.
func (c *Client) SetOverride(ctx context.Context, target, action, reason string) (ov *model.Override, replaced bool, err error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/overrides",
		Body: map[string]string{"target": target, "action": action, "reason": reason}})
	if err != nil {
		return nil, false, err
	}
	ov = &model.Override{}
	return ov, resp.Status == http.StatusOK, decode(resp.Body, ov)
}

// DeleteOverride removes the override of target.
func (c *Client) DeleteOverride(ctx context.Context, target string) error {
	path, _ := ObjectPath(model.KindOverride, target)
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: path})
	return err
}

// CreatedToken is a new token with its secret, shown this once.
type CreatedToken struct {
	model.Token
	Secret string `json:"secret"`
}

// CreateToken creates a token and returns its secret.
func (c *Client) CreateToken(ctx context.Context, name string, role model.Role) (*CreatedToken, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/tokens",
		Body: map[string]string{"name": name, "role": string(role)}})
	if err != nil {
		return nil, err
	}
	var t CreatedToken
	return &t, decode(resp.Body, &t)
}

// RevokeToken deletes a token: requests with it get 401 from now on.
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	path, _ := ObjectPath(model.KindToken, name)
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: path})
	return err
}

// Explain asks how the server answers name/qtype for client (an address,
// or a prefix sent as ECS from resolver; resolver may be empty). The
// answer is the DNS server's explanation as JSON.
func (c *Client) Explain(ctx context.Context, name, qtype, clientAddr, resolver string) (json.RawMessage, error) {
	q := url.Values{"name": {name}, "client": {clientAddr}}
	if qtype != "" {
		q.Set("type", qtype)
	}
	if resolver != "" {
		q.Set("resolver", resolver)
	}
	var raw json.RawMessage
	return raw, c.GetJSON(ctx, "/api/v1/explain", q, &raw)
}

// Checks gets the check list every checker runs. With etag, the ETag of
// an earlier answer, an unchanged list answers notModified (and no
// jobs); newETag is the list's current ETag either way.
func (c *Client) Checks(ctx context.Context, etag string) (jobs []model.Job, newETag string, notModified bool, err error) {
	var h http.Header
	if etag != "" {
		h = http.Header{"If-None-Match": {etag}}
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/api/v1/checks", Header: h})
	if IsStatus(err, http.StatusNotModified) {
		return nil, etag, true, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	var l struct {
		Items []model.Job `json:"items"`
	}
	if err := decode(resp.Body, &l); err != nil {
		return nil, "", false, err
	}
	if l.Items == nil {
		l.Items = []model.Job{}
	}
	return l.Items, resp.Header.Get("ETag"), false, nil
}

// Report sends one checker's report (rep.Checker.Name names the
// checker). A refused report is a *Problem: 422 for invalid content, 401
// or 403 for the token.
func (c *Client) Report(ctx context.Context, rep model.Report) error {
	_, err := c.Do(ctx, Request{Method: http.MethodPost,
		Path: "/api/v1/checkers/" + Segment(rep.Checker.Name) + "/report", Body: rep})
	return err
}

// Verdicts gets every stored verdict.
func (c *Client) Verdicts(ctx context.Context) ([]model.Verdict, error) {
	items, err := c.List(ctx, "/api/v1/verdicts", nil, 0)
	if err != nil {
		return nil, err
	}
	out := make([]model.Verdict, 0, len(items))
	for _, raw := range items {
		var v model.Verdict
		if err := decode(raw, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Availability gets the availability report (fleet.AvailabilityReport's
// JSON) into out.
func (c *Client) Availability(ctx context.Context, out any) error {
	return c.GetJSON(ctx, "/api/v1/availability", nil, out)
}

// Status gets the health status (fleet.Status's JSON) into out.
func (c *Client) Status(ctx context.Context, out any) error {
	return c.GetJSON(ctx, "/api/v1/status", nil, out)
}
