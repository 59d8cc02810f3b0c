package checker

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

type httpProbe struct {
	method     string
	url        string
	host       string // Host header; "" keeps the target
	expect     []int  // empty means 200-399
	expectBody string
	maxBody    int64
	timeout    time.Duration
	client     *http.Client
}

// httpMethods are the methods a check may use (model.Check.Method).
var httpMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodOptions}

func newHTTP(c model.Check, target string, opts Options) (*httpProbe, error) {
	path := c.Path
	if path == "" {
		path = "/"
	} else if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	maxBody := opts.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	// The TLS server name is the check's server_name, else the Host
	// header's host, else the target's host.
	serverName, _, _ := net.SplitHostPort(target)
	switch {
	case c.ServerName != "":
		serverName = c.ServerName
	case c.Host != "":
		serverName = c.Host
		if h, _, err := net.SplitHostPort(c.Host); err == nil {
			serverName = h
		}
	}
	serverName = strings.TrimSuffix(serverName, ".") // a CNAME target's absolute name
	method := c.Method
	if method == "" {
		method = http.MethodGet
	}
	if !slices.Contains(httpMethods, method) {
		return nil, fmt.Errorf("method %q is not one of %s", c.Method, strings.Join(httpMethods, ", "))
	}
	tr := &http.Transport{
		Proxy:               nil, // probe the target itself, never a proxy
		DialContext:         (&net.Dialer{}).DialContext,
		DisableKeepAlives:   true,
		DisableCompression:  true,
		TLSHandshakeTimeout: c.Timeout.D(),
		TLSClientConfig: &tls.Config{
			ServerName:         serverName,
			InsecureSkipVerify: opts.SkipVerify || c.SkipVerify, //nolint:gosec // operator's explicit choice
			RootCAs:            opts.RootCAs,
		},
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &httpProbe{
		method:     method,
		url:        c.Type + "://" + target + path,
		host:       c.Host,
		expect:     slices.Clone(c.ExpectStatus),
		expectBody: c.ExpectBody,
		maxBody:    maxBody,
		timeout:    c.Timeout.D(),
		client: &http.Client{
			Transport: tr,
			// A health check judges the target's own answer: redirects
			// are not followed (3xx is up by default).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Probe sends one request (GET unless the check names another method, never
// with a body) and judges the status, the body and the load.
func (p *httpProbe) Probe(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, nil)
	if err != nil {
		return Result{Err: err.Error()}
	}
	if p.host != "" {
		req.Host = p.host
	}
	req.Header.Set("User-Agent", "meridian-checker")
	resp, err := p.client.Do(req)
	if err != nil {
		return failure(ctx, start, p.timeout, err)
	}
	defer resp.Body.Close()
	// Read at most maxBody bytes; the rest is never read (the connection
	// is not reused, so it need not be drained).
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.maxBody))
	if err != nil {
		return failure(ctx, start, p.timeout, fmt.Errorf("reading body: %w", err))
	}
	res := Result{Latency: time.Since(start), Load: load(resp.Header, body)}
	if !p.statusOK(resp.StatusCode) {
		res.Err = fmt.Sprintf("status %d, want %s", resp.StatusCode, p.wantStatus())
		return res
	}
	if p.expectBody != "" && !bytes.Contains(body, []byte(p.expectBody)) {
		res.Err = fmt.Sprintf("body does not contain %q (first %d bytes read)", p.expectBody, len(body))
		return res
	}
	res.Up = true
	return res
}

func (p *httpProbe) statusOK(code int) bool {
	if len(p.expect) == 0 {
		return code >= 200 && code <= 399
	}
	return slices.Contains(p.expect, code)
}

func (p *httpProbe) wantStatus() string {
	if len(p.expect) == 0 {
		return "200-399"
	}
	s := make([]string, len(p.expect))
	for i, c := range p.expect {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ", ")
}

// load is the load a response reports: the X-Load header, else a JSON
// body's top-level "load" field. A value that is not a number within 0-1
// is ignored, as is a body that is not a whole JSON object (a truncated
// one included).
func load(h http.Header, body []byte) *float64 {
	if v := strings.TrimSpace(h.Get("X-Load")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && validLoad(f) {
			return &f
		}
		return nil
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return nil
	}
	var doc struct {
		Load *float64 `json:"load"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Load == nil || !validLoad(*doc.Load) {
		return nil
	}
	return doc.Load
}

func validLoad(f float64) bool { return f >= 0 && f <= 1 } // false for NaN
