package api

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"
)

// The OpenAPI document is checked three ways: it loads and validates as
// OpenAPI 3.1 (kin-openapi, JSON Schema 2020-12 for 3.1 documents); its
// operations are exactly the server's routes; and every request a test
// makes goes through checkOpenAPI, which validates the response (status
// documented, headers, body schema) and, for successful requests, the
// request too. TestMain then fails the run if some operation was never
// seen answering, so the document cannot drift from the code.

var (
	docOnce   sync.Once
	doc       *openapi3.T
	docRouter routers.Router
	docErr    error

	coveredMu sync.Mutex
	covered   = map[string]map[int]bool{} // "GET /api/v1/zones" → statuses seen
)

func loadDoc() (*openapi3.T, routers.Router, error) {
	docOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder(mediaDNS, openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
		loader := openapi3.NewLoader()
		doc, docErr = loader.LoadFromData(OpenAPI())
		if docErr != nil {
			return
		}
		if docErr = doc.Validate(context.Background()); docErr != nil {
			return
		}
		docRouter, docErr = legacy.NewRouter(doc)
	})
	return doc, docRouter, docErr
}

// checkOpenAPI validates one exchange against the document and records
// the operation as covered.
func checkOpenAPI(t testing.TB, hr *http.Request, body []byte, r *response) {
	t.Helper()
	check(t, hr, body, r, false)
}

// checkOpenAPIHead is checkOpenAPI for a stream: the status and headers,
// and the body only of an error.
func checkOpenAPIHead(t testing.TB, hr *http.Request, r *response) {
	t.Helper()
	check(t, hr, nil, r, r.Status == http.StatusOK)
}

func check(t testing.TB, hr *http.Request, body []byte, r *response, headOnly bool) {
	t.Helper()
	_, router, err := loadDoc()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	vr := hr.Clone(context.Background())
	vr.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := router.FindRoute(vr)
	if err != nil {
		// Only answers about routes that do not exist may lack an
		// operation: 404 for an unknown path, 405 for a wrong method.
		if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s answered %d but has no operation in the document: %v", hr.Method, hr.URL.Path, r.Status, err)
		}
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
		ExcludeResponseBody:   headOnly,
	}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route, Options: opts}
	if r.Status < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: a request the server accepted does not match the document: %v", hr.Method, hr.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.Status, Header: r.Header, Options: opts}
	out.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s → %d: the response does not match the document: %v\nbody: %s", hr.Method, hr.URL.Path, r.Status, err, r.Body)
	}
	cover(route.Method+" "+route.Path, r.Status)
}

func cover(op string, status int) {
	coveredMu.Lock()
	defer coveredMu.Unlock()
	if covered[op] == nil {
		covered[op] = map[int]bool{}
	}
	covered[op][status] = true
}

// TestMain runs the tests, then, when the whole suite ran, fails unless
// every operation of the document answered some test.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" && !testing.Short() {
		if missing := uncovered(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: operations of the OpenAPI document the tests did not exercise:\n  %s\n", strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// uncovered lists the operations no test saw succeed, and those with
// documented client errors (400, 404, 409, 413, 415, 422) no test saw
// fail with one: every route is tested with good and with bad input.
func uncovered() []string {
	d, _, err := loadDoc()
	if err != nil {
		return []string{err.Error()}
	}
	coveredMu.Lock()
	defer coveredMu.Unlock()
	clientErrors := []int{400, 404, 409, 413, 415, 422}
	var missing []string
	for path, item := range d.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			seen := covered[name]
			ok, bad, documented := false, false, false
			for code := range seen {
				ok = ok || code < 300
				bad = bad || slices.Contains(clientErrors, code)
			}
			for _, code := range clientErrors {
				documented = documented || op.Responses.Status(code) != nil
			}
			if !ok {
				missing = append(missing, name+": no success")
			}
			if documented && !bad {
				missing = append(missing, name+": no client error")
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// TestOpenAPIDocument: the document is valid OpenAPI 3.1 and its
// operations are exactly the routes the server serves.
func TestOpenAPIDocument(t *testing.T) {
	d, _, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", d.OpenAPI)
	}
	var inDoc []string
	for path, item := range d.Paths.Map() {
		for method := range item.Operations() {
			inDoc = append(inDoc, method+" "+path)
		}
	}
	e := newEnv(t)
	var served []string
	err = chi.Walk(e.srv.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served = append(served, method+" "+strings.TrimSuffix(route, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(inDoc)
	sort.Strings(served)
	if !slices.Equal(inDoc, served) {
		t.Errorf("document and routes differ:\n  only in the document: %q\n  only served: %q", minus(inDoc, served), minus(served, inDoc))
	}

	// The document itself is served without a token.
	r := e.do(req{method: "GET", path: "/api/v1/openapi.json", token: "-"}).want(200)
	if !bytes.Equal(r.Body, OpenAPI()) {
		t.Error("/api/v1/openapi.json does not serve the embedded document")
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
