package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// files are the page (ui/) and the vendored libraries (vendor/). vendor/
// is flat on purpose: module zips drop files in subdirectories of a
// directory named vendor, so web/vendor/x/y.js would vanish from
// `go install ...@version` builds.
//
//go:embed ui vendor
var files embed.FS

// AssetPrefix is the path under which the page's files are served, as
// AssetPrefix + version + "/" + file; / serves the page itself.
const AssetPrefix = "/ui/"

// ContentSecurityPolicy is sent with every answer: scripts, styles,
// images and connections from this server only, no inline script or
// style, no plugins, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Cache-Control values: the page is revalidated on every load (a new
// binary shows at once); files under the current version never change,
// so browsers keep them; files asked for under another version (a page
// loaded before an upgrade) are served now but not kept.
const (
	cachePage      = "no-cache"
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheOther     = "no-cache"
)

// versionToken in index.html is replaced by the assets' version.
const versionToken = "{{version}}"

type asset struct {
	ctype      string
	body, gz   []byte // gz is nil when compression does not pay
	etag, etgz string
}

type site struct {
	version string
	page    *asset
	assets  map[string]*asset // by path relative to the version: "app.js", "vendor/d3-geo.min.js"
}

var load = sync.OnceValue(func() *site {
	s, err := newSite(files)
	if err != nil {
		panic("web: embedded files: " + err.Error()) // the embedded files are part of the binary
	}
	return s
})

// Handler serves the dashboard: the page at /, its files under
// AssetPrefix. It answers GET and HEAD, with a Content-Security-Policy
// and the other security headers on every answer.
func Handler() http.Handler {
	s := load()
	return http.HandlerFunc(s.serveHTTP)
}

// Version is the hash of the embedded files, the path segment after
// AssetPrefix that the page refers to.
func Version() string { return load().version }

func newSite(fsys fs.FS) (*site, error) {
	s := &site{assets: map[string]*asset{}}
	var names []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	sum := sha256.New()
	bodies := map[string][]byte{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		bodies[name] = b
		sum.Write([]byte(name))
		sum.Write([]byte{0})
		sum.Write(b)
		sum.Write([]byte{0})
	}
	s.version = hex.EncodeToString(sum.Sum(nil))[:12]
	for name, b := range bodies {
		switch {
		case name == "ui/index.html":
			s.page = newAsset(name, bytes.ReplaceAll(b, []byte(versionToken), []byte(s.version)))
		case strings.HasPrefix(name, "ui/"):
			s.assets[strings.TrimPrefix(name, "ui/")] = newAsset(name, b)
		default: // vendor/
			s.assets[name] = newAsset(name, b)
		}
	}
	if s.page == nil {
		return nil, fs.ErrNotExist
	}
	return s, nil
}

func newAsset(name string, body []byte) *asset {
	a := &asset{ctype: contentType(name), body: body}
	h := sha256.Sum256(body)
	a.etag = `"` + hex.EncodeToString(h[:8]) + `"`
	if len(body) >= 1024 && compressible(a.ctype) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body)*9/10 {
			a.gz = buf.Bytes()
			a.etgz = `"` + hex.EncodeToString(h[:8]) + `-gz"`
		}
	}
	return a
}

// contentType is set from the name, never sniffed, and not taken from
// the system's MIME tables (which differ between machines).
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	default: // LICENSE files, VERSIONS
		return "text/plain; charset=utf-8"
	}
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || ctype == "application/json" || ctype == "image/svg+xml"
}

func (s *site) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "/" {
		s.page.serve(w, r, cachePage)
		return
	}
	rest, ok := strings.CutPrefix(p, AssetPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	version, name, ok := strings.Cut(rest, "/")
	a := s.assets[name]
	if !ok || a == nil {
		http.NotFound(w, r)
		return
	}
	cache := cacheOther
	if version == s.version {
		cache = cacheImmutable
	}
	a.serve(w, r, cache)
}

func (a *asset) serve(w http.ResponseWriter, r *http.Request, cache string) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", cache)
	body, etag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = a.gz, a.etgz
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Write(body)
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a q above 0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && f <= 0 {
					return false
				}
			}
			return true
		}
	}
	return false
}

// etagMatches implements If-None-Match's weak comparison over a list.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
