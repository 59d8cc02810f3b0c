package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPage: / is the page, revalidated on every load, with the version
// filled in and the security headers.
func TestPage(t *testing.T) {
	res := get(t, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", res.StatusCode)
	}
	b := body(t, res)
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-cache",
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if res.Header.Get("ETag") == "" {
		t.Error("no ETag")
	}
	if bytes.Contains(b, []byte(versionToken)) || !bytes.Contains(b, []byte(AssetPrefix+Version()+"/app.js")) {
		t.Errorf("the page does not refer to the assets of version %s:\n%s", Version(), b)
	}
	// 304 for a page the browser has.
	res2 := get(t, "/", "If-None-Match", res.Header.Get("ETag"))
	if res2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", res2.StatusCode)
	}
}

// TestCSPHolds: the policy allows only 'self', and the page needs no
// more: no inline script or style, no event handler attributes, nothing
// loaded from another origin.
func TestCSPHolds(t *testing.T) {
	for _, directive := range strings.Split(ContentSecurityPolicy, ";") {
		fields := strings.Fields(directive)
		for _, src := range fields[1:] {
			if src != "'self'" && src != "'none'" {
				t.Errorf("directive %q allows %s", directive, src)
			}
		}
	}
	page := string(body(t, get(t, "/")))
	inline := regexp.MustCompile(`(?is)<script(?:\s[^>]*)?>\s*[^<\s]`)
	if m := inline.FindString(page); m != "" && !strings.Contains(m, "src=") {
		t.Errorf("inline script: %q", m)
	}
	for _, script := range regexp.MustCompile(`(?is)<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(script, `src="/ui/`) {
			t.Errorf("script not from /ui/: %s", script)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle=`),
		regexp.MustCompile(`(?i)\son[a-z]+=`),
		regexp.MustCompile(`(?i)(src|href)="(https?:)?//`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := bad.FindString(page); m != "" {
			t.Errorf("the page has %q, which the policy forbids or which leaves the server", m)
		}
	}
	// The page's own code fetches nothing from elsewhere, and never
	// sets a style attribute (forbidden by style-src 'self').
	err := fs.WalkDir(files, "ui", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(files, name)
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "") // a namespace name, not a request
		for _, bad := range []string{"http://", "https://", `setAttribute("style"`, ".innerHTML", "eval(", "new Function", "@import", "url(http"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAssets: every file the page names is served with its type and,
// under the current version, cached for good; another version is served
// but revalidated; gzip when the client takes it.
func TestAssets(t *testing.T) {
	v := Version()
	page := string(body(t, get(t, "/")))
	refs := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 6 {
		t.Fatalf("the page names %d assets", len(refs))
	}
	for _, ref := range refs {
		res := get(t, ref[1])
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", ref[1], res.StatusCode)
			continue
		}
		if cc := res.Header.Get("Cache-Control"); cc != cacheImmutable {
			t.Errorf("%s: Cache-Control %q", ref[1], cc)
		}
	}
	for path, ctype := range map[string]string{
		"app.js":                        "text/javascript; charset=utf-8",
		"app.css":                       "text/css; charset=utf-8",
		"favicon.svg":                   "image/svg+xml",
		"vendor/d3-geo.min.js":          "text/javascript; charset=utf-8",
		"vendor/countries-110m.json":    "application/json",
		"vendor/d3-geo.LICENSE":         "text/plain; charset=utf-8",
		"vendor/world-atlas.LICENSE":    "text/plain; charset=utf-8",
		"vendor/topojson-client.min.js": "text/javascript; charset=utf-8",
	} {
		res := get(t, AssetPrefix+v+"/"+path)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ctype {
			t.Errorf("%s: %d %q, want 200 %q", path, res.StatusCode, res.Header.Get("Content-Type"), ctype)
		}
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no Content-Security-Policy", path)
		}
	}
	old := get(t, AssetPrefix+"0123456789ab/app.js")
	if old.StatusCode != http.StatusOK || old.Header.Get("Cache-Control") != cacheOther {
		t.Errorf("another version's app.js: %d %q", old.StatusCode, old.Header.Get("Cache-Control"))
	}

	plain := body(t, get(t, AssetPrefix+v+"/vendor/countries-110m.json"))
	res := get(t, AssetPrefix+v+"/vendor/countries-110m.json", "Accept-Encoding", "br, gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("no gzip: %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Error("the gzip body differs from the file")
	}
	if res := get(t, AssetPrefix+v+"/vendor/countries-110m.json", "Accept-Encoding", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent with q=0")
	}
	if res := get(t, AssetPrefix+v+"/app.js", "If-None-Match", `W/"x", `+get(t, AssetPrefix+v+"/app.js").Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match list: %d, want 304", res.StatusCode)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	for _, path := range []string{"/index.html", "/ui/", "/ui/" + Version(), "/ui/" + Version() + "/nope.js", "/ui/" + Version() + "/../web.go", "/favicon.ico"} {
		if res := get(t, path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	req = httptest.NewRequest(http.MethodHead, "/", nil)
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD /: %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

// TestVendored: every vendored library comes with its licence, and
// vendor/ has no subdirectory (module zips leave out files in
// subdirectories of a directory named vendor).
func TestVendored(t *testing.T) {
	entries, err := fs.ReadDir(files, "vendor")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("vendor/%s is a directory: keep vendor/ flat", e.Name())
		}
		have[e.Name()] = true
	}
	for _, lib := range []string{"d3-array", "d3-geo", "topojson-client"} {
		if !have[lib+".min.js"] || !have[lib+".LICENSE"] {
			t.Errorf("vendor/ lacks %s.min.js or its LICENSE", lib)
		}
	}
	if !have["countries-110m.json"] || !have["world-atlas.LICENSE"] || !have["VERSIONS"] {
		t.Error("vendor/ lacks the world atlas, its licence or VERSIONS")
	}
}

func TestAcceptsGzip(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "gzip": true, "br, gzip;q=0.5": true, "gzip;q=0": false, "gzip; q=0.000": false,
		"*": true, "identity": false, "GZIP": true, "deflate, br": false,
	} {
		if got := acceptsGzip([]string{in}); got != want {
			t.Errorf("Accept-Encoding %q: %v, want %v", in, got, want)
		}
	}
}
