package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/meridian-gslb/meridian/store/etcdtest"
)

// The dashboard's browser tests: the real binary, real backends, and
// Debian's chromium driven over the DevTools protocol. They never skip:
// without chromium they fail and say how to install it (.ci/run does).

var (
	updateScreenshots = flag.Bool("update-screenshots", false, "write web/screenshot-*.png for the README from the dashboard tests")
	keepScreenshots   = flag.String("screenshots", "", "also copy every dashboard screenshot into this directory")
)

// chromiumPath finds the browser: $MERIDIAN_CHROMIUM, else chromium on
// the PATH (Debian's package), else the usual names.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MERIDIAN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the dashboard tests need chromium: apt-get install chromium (.ci/run installs it), or set MERIDIAN_CHROMIUM")
	return ""
}

// browser is one headless chromium with a fresh profile. It records what
// must never happen on the page: an uncaught exception, a Content
// Security Policy violation, a request to anything but the server.
type browser struct {
	ctx    context.Context
	server string // http://127.0.0.1:port
	shots  string // where screenshots go

	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T, server string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx, server: server, shots: filepath.Join(t.TempDir(), "screenshots")}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	b.watch(t, ctx)
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Error(p)
		}
	})
	return b
}

// watch records the page's problems in a tab (the first call starts the
// browser).
func (b *browser) watch(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			problem = fmt.Sprintf("uncaught exception in the page: %s %s:%d", d.Text, d.URL, d.LineNumber+1)
			if d.Exception != nil && d.Exception.Description != "" {
				problem += ": " + d.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Source == cdplog.EntrySourceSecurity || strings.Contains(ev.Entry.Text, "Content Security Policy") {
				problem = "security: " + ev.Entry.Text
			}
		case *network.EventRequestWillBeSent:
			u := ev.Request.URL
			if !strings.HasPrefix(u, b.server+"/") && u != b.server && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "about:") {
				problem = "a request left the server: " + u
			}
		}
		if problem != "" {
			b.mu.Lock()
			b.problems = append(b.problems, problem)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
}

// do runs actions with a time limit.
func do(t *testing.T, ctx context.Context, limit time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval runs a JavaScript expression in the page and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript predicate every 20 ms until it is true and
// returns how long that took; it fails after limit, showing what.
func waitJS(t *testing.T, ctx context.Context, expr string, limit time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	c, cancel := context.WithTimeout(ctx, limit+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(limit)))
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#map [data-dc]")].map(g => g.dataset.dc + "=" + g.dataset.status).join(" ") + " | " + document.querySelector("#summary").textContent + " | " + document.querySelector("#stream-status").textContent`))
		t.Fatalf("%s: not within %v (%v); page: %s", what, limit, err, state)
	}
	return time.Since(start)
}

// screenshot saves the page (whole, or the viewport only) as NAME.png
// under the test's screenshots directory and returns its path.
func (b *browser) screenshot(t *testing.T, ctx context.Context, name string, full bool) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(c, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if *keepScreenshots != "" {
		if err := os.WriteFile(filepath.Join(*keepScreenshots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// keepScreenshot copies a screenshot into web/ for the README, with
// -update-screenshots.
func keepScreenshot(t *testing.T, path, name string) {
	t.Helper()
	if !*updateScreenshots {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "web", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// darkMode switches prefers-color-scheme.
func darkMode(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		value := "light"
		if on {
			value = "dark"
		}
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: value}}})
		return err
	})
}

// focusEmulation makes the tab behave as the focused window.
func focusEmulation() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	})
}

// dcStatusIs is the predicate "the map marker of dc has data-status".
func dcStatusIs(dc, status string) string {
	return fmt.Sprintf(`document.querySelector('#map g[data-dc=%q]')?.dataset.status === %q`, dc, status)
}

// signInByFragment opens /#token=T&view=V as a wall display would, and
// waits until the page has loaded the status.
func signInByFragment(t *testing.T, ctx context.Context, server, token, view string) {
	t.Helper()
	do(t, ctx, 20*time.Second, chromedp.Navigate(server+"/#token="+token+"&view="+view))
	waitJS(t, ctx, `document.body.dataset.role !== undefined && document.querySelector("#stream-status").dataset.state === "live" && document.querySelector("#summary").dataset.level !== undefined`, 10*time.Second, "signed in with the fragment")
}

// clickTab shows a view and waits for cond.
func clickTab(t *testing.T, ctx context.Context, view, cond string) {
	t.Helper()
	do(t, ctx, 10*time.Second, chromedp.Click(chromedp.ID("tab-"+view)))
	waitJS(t, ctx, cond, 10*time.Second, "the "+view+" view")
}

// TestDashboard runs the real binary with two data centers behind a
// failover service, each probed at a real backend, and drives the
// dashboard in chromium: the map's states, a read token without
// buttons, an admin's drain moving the DNS answer, a stopped backend
// turning its data center red on the open page, and a screenshot of each
// view.
func TestDashboard(t *testing.T) {
	const (
		interval   = time.Second
		rise, fall = 2, 3
	)
	started := time.Now()
	primary, secondary := newBackend(t, nil), newBackend(t, nil)
	check := fmt.Sprintf("{type: http, path: /healthz, interval: %v, timeout: 500ms, rise: %d, fall: %d}", interval, rise, fall)
	state, data := twoDCState(t, check, primary.addr, secondary.addr), t.TempDir()
	p := startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken}, "--state", state, "--data-dir", data)
	server := "http://" + p.http
	b := newBrowser(t, server)
	ctx := b.ctx
	waitVerdict(t, p, testAdminToken, "192.0.2.1", "up", interval*rise+5*time.Second)
	waitVerdict(t, p, testAdminToken, "192.0.2.2", "up", interval*rise+5*time.Second)

	t.Run("MapShowsEveryDatacenter", func(t *testing.T) {
		signInByFragment(t, ctx, server, testAdminToken, "map")
		waitJS(t, ctx, dcStatusIs("alpha", "up")+" && "+dcStatusIs("beta", "up"), 5*time.Second, "alpha and beta up on the map")
		if n := eval[int](t, ctx, `document.querySelectorAll("#map g[data-dc]").length`); n != 2 {
			t.Errorf("%d data centers on the map, want 2", n)
		}
		// The token left the address bar and lives in the tab's session storage.
		if h := eval[string](t, ctx, `location.hash`); strings.Contains(h, "token") || h != "#view=map" {
			t.Errorf("address bar fragment %q after signing in, want #view=map", h)
		}
		if tok := eval[string](t, ctx, `sessionStorage.getItem("meridian.token")`); tok != testAdminToken {
			t.Errorf("session storage holds %q", tok)
		}
		// Colour is not the only signal: each marker says its state in words.
		if label := eval[string](t, ctx, `document.querySelector('#map g[data-dc="alpha"]').getAttribute("aria-label")`); !strings.Contains(label, "alpha") || !strings.Contains(label, ": up") {
			t.Errorf("alpha's marker label %q", label)
		}
		waitJS(t, ctx, `document.querySelector("#stream-status").dataset.state === "live" && document.querySelector("#stream-status").textContent.startsWith("live")`, 5*time.Second, "the stream live")
		if sum := eval[string](t, ctx, `document.querySelector("#summary").textContent`); !strings.HasPrefix(sum, "All 2 data centers up") {
			t.Errorf("summary %q", sum)
		}
	})

	t.Run("Keyboard", func(t *testing.T) {
		// Focusing a data center on the map shows its endpoints.
		// A headless tab has no window focus, so no focus events: emulate
		// the focused window a user has.
		do(t, ctx, 5*time.Second, focusEmulation())
		_ = eval[bool](t, ctx, `(document.querySelector('#map g[data-dc="beta"]').focus(), true)`)
		waitJS(t, ctx, `document.querySelector("#dc-detail h3")?.textContent.startsWith("Data center beta") && document.querySelector('#dc-detail li[data-endpoint="192.0.2.2"]') !== null`,
			2*time.Second, "beta's endpoints beside the map on focus")
		// The tabs follow the arrow keys.
		do(t, ctx, 5*time.Second, chromedp.Focus(chromedp.ID("tab-map")), chromedp.KeyEvent(kb.ArrowRight))
		waitJS(t, ctx, `document.activeElement.id === "tab-regions" && document.querySelector("#tab-regions").getAttribute("aria-selected") === "true" && !document.querySelector("#view-regions").hidden`,
			2*time.Second, "the Regions tab after ArrowRight")
		do(t, ctx, 5*time.Second, chromedp.KeyEvent(kb.ArrowLeft))
		waitJS(t, ctx, `document.activeElement.id === "tab-map" && !document.querySelector("#view-map").hidden`, 2*time.Second, "the Map tab after ArrowLeft")
	})

	t.Run("SSEParser", func(t *testing.T) {
		// The page's event-stream parser, fed awkward chunks: a CRLF split
		// across two reads, a comment, two data lines, a bare CR.
		got := eval[string](t, ctx, `import(document.querySelector('script[type=module]').src.replace(/app\.js$/, "stream.js")).then((m) => {
			const out = [];
			const feed = m.sseParser((msg) => out.push(msg));
			for (const c of [": meridian event stream\r\n", "id: 7\r", "\nevent: verdict\ndata: {\"a\":", "1}\ndata: x\n\n", "data: y\r\r", "id: 8\nevent: override\ndata: z\n"]) feed(c);
			return JSON.stringify(out);
		})`, chromedp.EvalAwaitPromise)
		want := `[{"id":"7","event":"verdict","data":"{\"a\":1}\nx"},{"id":"7","event":"message","data":"y"}]`
		if got != want {
			t.Errorf("parsed %s\nwant   %s", got, want)
		}
	})

	t.Run("ReadTokenSeesNoActions", func(t *testing.T) {
		viewer := createToken(t, server, "viewer", "read")
		rctx, cancel := chromedp.NewContext(ctx) // a second tab: its own session storage
		defer cancel()
		b.watch(t, rctx)
		do(t, rctx, 20*time.Second,
			chromedp.Navigate(server+"/"),
			chromedp.WaitVisible(chromedp.ID("token-input")),
			chromedp.SendKeys(chromedp.ID("token-input"), viewer),
			chromedp.Click(chromedp.ID("signin-submit")))
		waitJS(t, rctx, `document.body.dataset.role === "read" && document.querySelectorAll("#dc-table tbody tr").length === 2`, 10*time.Second, "signed in as read")
		clickTab(t, rctx, "service", `document.querySelectorAll("#endpoint-table tbody tr").length === 2`)
		if n := eval[int](t, rctx, `document.querySelectorAll("button[data-action], .actions button").length`); n != 0 {
			t.Errorf("a read token sees %d action buttons", n)
		}
		if who := eval[string](t, rctx, `document.querySelector("#whoami").textContent`); who != "read-only" {
			t.Errorf("whoami %q", who)
		}
		// The admin's tab has them, so the check above is not vacuous.
		if n := eval[int](t, ctx, `document.querySelectorAll("#dc-table button[data-action]").length`); n < 6 {
			t.Errorf("the admin sees %d action buttons in the data center table, want 3 per data center", n)
		}
	})

	t.Run("AdminDrainMovesDNS", func(t *testing.T) {
		if got := answerOf(t, p); !slices.Equal(got, []string{"192.0.2.1"}) {
			t.Fatalf("answer before the drain %v, want the primary", got)
		}
		const reason = "dashboard test: kernel upgrade"
		do(t, ctx, 10*time.Second,
			chromedp.Click(chromedp.CSS(`#dc-table button[data-action="drain"][data-target="datacenter/alpha"]`)),
			chromedp.WaitVisible(chromedp.ID("action-dialog")))
		if text := eval[string](t, ctx, `document.querySelector("#action-effect").textContent`); !strings.Contains(text, "api.gslb.test. A") {
			t.Errorf("the dialog does not say what moves: %q", text)
		}
		// Confirming without a reason is refused by the page.
		do(t, ctx, 10*time.Second, chromedp.Click(chromedp.ID("action-confirm")))
		if open := eval[bool](t, ctx, `document.querySelector("#action-dialog").open`); !open {
			t.Fatal("the dialog closed without a reason")
		}
		clicked := time.Now()
		do(t, ctx, 10*time.Second,
			chromedp.SendKeys(chromedp.ID("action-reason"), reason),
			chromedp.Click(chromedp.ID("action-confirm")))
		waitAnswer(t, p, []string{"192.0.2.2"}, 5*time.Second)
		t.Logf("drain from the page: the DNS answer moved to beta %v after the confirmation", time.Since(clicked).Round(time.Millisecond))
		waitJS(t, ctx, dcStatusIs("alpha", "drained"), 3*time.Second, "alpha drained on the map")
		code, body := apiCall(t, "GET", server+"/api/v1/overrides/datacenter/alpha", testAdminToken, nil)
		var ov struct{ Action, Reason, CreatedBy string }
		_ = json.Unmarshal(body, &ov)
		if code != http.StatusOK || ov.Action != "drain" || ov.Reason != reason {
			t.Errorf("override after the drain: %d %s", code, body)
		}
		// Undrain: a confirmation, no reason (DELETE takes none).
		do(t, ctx, 10*time.Second,
			chromedp.Click(chromedp.CSS(`#dc-table button[data-action="remove"][data-target="datacenter/alpha"]`)),
			chromedp.WaitVisible(chromedp.ID("action-dialog")),
			chromedp.Click(chromedp.ID("action-confirm")))
		waitAnswer(t, p, []string{"192.0.2.1"}, 5*time.Second)
		waitJS(t, ctx, dcStatusIs("alpha", "up"), 3*time.Second, "alpha up again after the undrain")
	})

	// A restart (an upgrade) ends the stream: the page says so at once,
	// and resumes after the last event it saw once the server is back.
	var mu sync.Mutex
	var resumes []string // the Last-Event-ID of every stream request from now on
	lctx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	if err := chromedp.Listen(lctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok && strings.HasSuffix(ev.Request.URL, "/api/v1/stream") {
			id, _ := ev.Request.Headers["Last-Event-ID"].(string)
			mu.Lock()
			resumes = append(resumes, id)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	t.Run("StreamDisconnected", func(t *testing.T) {
		waitJS(t, ctx, `document.querySelector("#stream-status").dataset.state === "disconnected" && document.querySelector("#stream-status").textContent.startsWith("disconnected — reconnecting")`+
			` && !document.querySelector("#banner").hidden`, 3*time.Second, "the page saying the stream is disconnected")
	})
	p = startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken}, "--state", state, "--data-dir", data, "--http-listen", p.http)
	if "http://"+p.http != server {
		t.Fatalf("restarted on %s, not %s", p.http, server)
	}
	t.Run("StreamReconnects", func(t *testing.T) {
		code, body := apiCall(t, "POST", server+"/api/v1/overrides", testAdminToken, map[string]string{"target": "datacenter/beta", "action": "drain", "reason": "while the page was reconnecting"})
		if code != http.StatusCreated {
			t.Fatalf("drain beta: %d %s", code, body)
		}
		// "Reconnect now" skips the rest of the backoff (the page may have
		// reconnected by itself already).
		_ = eval[bool](t, ctx, `(document.querySelector("#banner button")?.click(), true)`)
		waitJS(t, ctx, `document.querySelector("#stream-status").dataset.state === "live" && document.querySelector("#banner").hidden && `+dcStatusIs("beta", "drained"), 5*time.Second, "the stream live again, beta drained")
		mu.Lock()
		got := slices.Clone(resumes)
		mu.Unlock()
		if len(got) == 0 || got[len(got)-1] == "" {
			t.Errorf("stream requests' Last-Event-ID: %q; want the reconnection to resume after the last event seen", got)
		}
		t.Logf("reconnection requests sent Last-Event-ID %q", got)
		if code, body := apiCall(t, "DELETE", server+"/api/v1/overrides/datacenter/beta", testAdminToken, nil); code != http.StatusNoContent {
			t.Fatalf("undrain beta: %d %s", code, body)
		}
		waitJS(t, ctx, dcStatusIs("beta", "up"), 3*time.Second, "beta up again")
	})

	t.Run("StoppedBackendTurnsRed", func(t *testing.T) {
		eval[bool](t, ctx, `(window.__noReload = true)`)
		primary.stop()
		bound := interval*fall + 2*time.Second
		took := waitJS(t, ctx, dcStatusIs("alpha", "down"), bound, "alpha down on the open page")
		seen := time.Now()
		if !eval[bool](t, ctx, `window.__noReload === true`) {
			t.Error("the page reloaded")
		}
		// How long after the verdict did the page show it? (Same machine,
		// same clock.)
		code, body := apiCall(t, "GET", server+"/api/v1/events?type=verdict&object=endpoint/api.gslb.test./A/192.0.2.1", testAdminToken, nil)
		var evs struct {
			Items []struct {
				At    time.Time `json:"at"`
				After string    `json:"after"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &evs); code != http.StatusOK || err != nil {
			t.Fatalf("events: %d %s", code, body)
		}
		var verdictAt time.Time
		for _, e := range evs.Items {
			if e.After == "down" {
				verdictAt = e.At
			}
		}
		lag := seen.Sub(verdictAt)
		t.Logf("stopped backend: alpha red on the page %v after the stop (bound interval×fall + 2 s = %v); %v after the down verdict",
			took.Round(time.Millisecond), bound, lag.Round(time.Millisecond))
		if verdictAt.IsZero() || lag > 2*time.Second {
			t.Errorf("the page showed the verdict %v after it was made, want under 2 s", lag)
		}
		if sum := eval[string](t, ctx, `document.querySelector("#summary").textContent`); !strings.Contains(sum, "1 data center down (alpha") {
			t.Errorf("summary during the outage: %q", sum)
		}
	})

	t.Run("Screenshots", func(t *testing.T) {
		views := []struct{ view, ready string }{
			{"map", `document.querySelectorAll("#dc-table tbody tr").length === 2`},
			{"regions", `document.querySelector("#regions-body table") !== null`},
			{"service", `document.querySelectorAll("#endpoint-table tbody tr").length === 2 && document.querySelector("#service-changes table") !== null`},
			{"timeline", `document.querySelector("#timeline-table tbody tr") !== null`},
			{"availability", `document.querySelector("#avail-dcs") !== null`},
		}
		for _, v := range views {
			clickTab(t, ctx, v.view, v.ready)
			b.screenshot(t, ctx, "incident-"+v.view, true)
		}
		// "Explain a query…" on a service fills the form in.
		clickTab(t, ctx, "service", `document.querySelector("#service-body button[data-explain-name]") !== null`)
		do(t, ctx, 10*time.Second, chromedp.Click(chromedp.CSS("#service-body button[data-explain-name]")))
		waitJS(t, ctx, `!document.querySelector("#view-explain").hidden && document.querySelector("#explain-name").value === "api.gslb.test." && document.querySelector("#explain-type").value === "A"`,
			2*time.Second, "the explain form filled in from the service")
		do(t, ctx, 10*time.Second,
			chromedp.SetValue(chromedp.ID("explain-client"), "192.0.2.99"),
			chromedp.Click(chromedp.ID("explain-submit")))
		waitJS(t, ctx, `document.querySelectorAll("#explain-result [data-step]").length >= 2`, 5*time.Second, "the explanation")
		b.screenshot(t, ctx, "incident-explain", true)
		entries, _ := os.ReadDir(b.shots)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Logf("screenshots in %s: %v", b.shots, names)
	})
	t.Run("RoutingUnavailable", func(t *testing.T) {
		// A server without GET /api/v1/routing (404): the page says so
		// and shows no made-up region status. The browser answers that
		// route itself with a 404 problem.
		uctx, cancel := chromedp.NewContext(ctx)
		defer cancel()
		b.watch(t, uctx)
		if err := chromedp.Listen(uctx, func(ev any) {
			if ev, ok := ev.(*fetch.EventRequestPaused); ok {
				id := ev.RequestID
				go chromedp.Do(uctx, chromedp.Func(func(c context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(c, tg, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: id, ResponseCode: http.StatusNotFound,
						ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/problem+json"}},
						Body:            []byte(`{"type":"urn:meridian:problem:not-found","title":"Not Found","status":404,"detail":"no route"}`)})
					return err
				}))
			}
		}); err != nil {
			t.Fatal(err)
		}
		do(t, uctx, 10*time.Second, chromedp.Func(func(c context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(c, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/v1/routing*"}}})
			return err
		}))
		signInByFragment(t, uctx, server, testAdminToken, "regions")
		waitJS(t, uctx, `document.querySelector("#regions-body .unavailable")?.textContent.includes("not available on this server") && document.querySelector("#regions-body").textContent.includes("404")`,
			5*time.Second, "the Regions view saying routing is not available")
		if n := eval[int](t, uctx, `document.querySelectorAll("#regions-body table, #region-matrix").length`); n != 0 {
			t.Errorf("%d region tables without routing", n)
		}
		b.screenshot(t, uctx, "routing-unavailable", false)
	})
	secondary.stop()
	t.Logf("TestDashboard took %v", time.Since(started).Round(time.Millisecond))
}

// TestDashboardExample runs the bundled example (examples/meridian.yaml
// and its state file, three data centers on three continents, the
// MaxMind test database) with real backends in place of the demo ones:
// the map shows fra, iad and sin up; the explain form shows a UK client
// sent to fra step by step; stopping iad's backend turns it red and
// moves the americas away from it. Screenshots of the calm and the
// incident state (laptop, phone, dark).
func TestDashboardExample(t *testing.T) {
	started := time.Now()
	state := exampleStateWithBackends(t)
	p := startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken},
		"--config", "../../examples/meridian.yaml", "--state", state.path, "--data-dir", t.TempDir())
	server := "http://" + p.http
	// A remote checker agent with a location, so that the map has one
	// at its place (the node's embedded checker has none in the example).
	startCheckerAgentAs(t, meridianBin, nil, server, createToken(t, server, "probe-gru", "checker"), "probe-gru",
		"--region", "americas", "--location", "-23.55,-46.63")
	b := newBrowser(t, server)
	ctx := b.ctx
	for _, ep := range []string{"192.0.2.10", "192.0.2.11", "192.0.2.20", "198.51.100.10", "198.51.100.20", "203.0.113.10"} {
		waitVerdict(t, p, testAdminToken, ep, "up", 10*time.Second)
	}

	signInByFragment(t, ctx, server, testAdminToken, "map")
	waitJS(t, ctx, dcStatusIs("fra", "up")+" && "+dcStatusIs("iad", "up")+" && "+dcStatusIs("sin", "up")+
		` && document.querySelector("#summary").textContent.startsWith("All 3 data centers up.")`+
		` && document.querySelector('#map g.checker[aria-label^="Checker probe-gru: fresh"]') !== null`+
		` && document.querySelectorAll("#region-matrix td[data-dcs]").length > 0`, 8*time.Second, "fra, iad and sin up, both checkers fresh")
	calm := b.screenshot(t, ctx, "example-map", false)
	keepScreenshot(t, calm, "screenshot-map.png")

	t.Run("ExplainEuropeanClient", func(t *testing.T) {
		clickTab(t, ctx, "explain", `document.querySelector("#explain-form") !== null`)
		do(t, ctx, 10*time.Second,
			chromedp.SendKeys(chromedp.ID("explain-name"), "app.gslb.example.test"),
			chromedp.SetValue(chromedp.ID("explain-type"), "A"),
			chromedp.SendKeys(chromedp.ID("explain-client"), "2.2.3.4"),
			chromedp.Click(chromedp.ID("explain-submit")))
		waitJS(t, ctx, `document.querySelectorAll("#explain-result [data-step]").length >= 3`, 5*time.Second, "the steps")
		steps := eval[[]string](t, ctx, `[...document.querySelectorAll("#explain-result [data-step]")].map(li => li.dataset.step)`)
		if !slices.Equal(steps, []string{"healthy", "region", "nearest"}) {
			t.Errorf("steps %v, want healthy, region, nearest", steps)
		}
		chosen := eval[string](t, ctx, `document.querySelector("#explain-result [data-role=chosen]").textContent`)
		region := eval[string](t, ctx, `document.querySelector('#explain-facts dd[data-fact="region"]').textContent`)
		if !strings.Contains(chosen, "fra 192.0.2.10") || !strings.Contains(chosen, "fra 192.0.2.11") || strings.Contains(chosen, "iad") {
			t.Errorf("chosen %q, want fra's two addresses", chosen)
		}
		if !strings.HasPrefix(region, "europe") {
			t.Errorf("region %q, want europe", region)
		}
		b.screenshot(t, ctx, "example-explain", true)
	})

	t.Run("IncidentAndLayouts", func(t *testing.T) {
		clickTab(t, ctx, "map", `document.querySelectorAll("#dc-table tbody tr").length === 3`)
		state.backends["iad"].stop()
		waitJS(t, ctx, dcStatusIs("iad", "down")+
			` && document.querySelector('#region-matrix td[data-region="americas"][data-service="app.gslb.example.test./A"] .moved') !== null`,
			6*time.Second, "iad down and the americas moved away from it")
		if sum := eval[string](t, ctx, `document.querySelector("#summary").textContent`); !strings.Contains(sum, "1 data center down (iad") || !strings.Contains(sum, "rerouted (americas") {
			t.Errorf("summary %q", sum)
		}
		incident := b.screenshot(t, ctx, "example-incident-map", false)
		keepScreenshot(t, incident, "screenshot-incident.png")
		do(t, ctx, 10*time.Second, darkMode(true))
		b.screenshot(t, ctx, "example-incident-map-dark", false)
		do(t, ctx, 10*time.Second, darkMode(false),
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		waitJS(t, ctx, `document.querySelector("#map").getBoundingClientRect().width <= 390`, 5*time.Second, "the phone layout")
		b.screenshot(t, ctx, "example-incident-phone", false)
		// Regions view, the operators' first question.
		do(t, ctx, 10*time.Second, chromedp.EmulateViewport(1280, 900))
		clickTab(t, ctx, "regions", `document.querySelector("#regions-body table") !== null`)
		b.screenshot(t, ctx, "example-incident-regions", true)
	})
	t.Logf("TestDashboardExample took %v", time.Since(started).Round(time.Millisecond))
}

// exampleState is the bundled example's state file with each data
// center's demo backend replaced by a real one on a free port.
type exampleState struct {
	path     string
	backends map[string]*backend
}

func exampleStateWithBackends(t *testing.T) exampleState {
	t.Helper()
	dir := t.TempDir()
	text, err := os.ReadFile("../../examples/state.yaml")
	if err != nil {
		t.Fatal(err)
	}
	zone, err := os.ReadFile("../../examples/gslb.example.test.zone")
	if err != nil {
		t.Fatal(err)
	}
	s := exampleState{path: filepath.Join(dir, "state.yaml"), backends: map[string]*backend{}}
	for dc, demo := range map[string]string{"fra": "127.0.0.1:18081", "iad": "127.0.0.1:18082", "sin": "127.0.0.1:18083"} {
		if !strings.Contains(string(text), demo) {
			t.Fatalf("examples/state.yaml no longer probes %s at %s", dc, demo)
		}
		s.backends[dc] = newBackend(t, nil)
		text = []byte(strings.ReplaceAll(string(text), `"`+demo+`"`, `"`+s.backends[dc].addr+`"`))
	}
	writeFile(t, s.path, string(text))
	writeFile(t, filepath.Join(dir, "gslb.example.test.zone"), string(zone))
	return s
}

// TestDashboardClusterDegraded: a cluster node's dashboard says, in its
// banner, when the node cannot reach etcd and serves its last known state
// (with /readyz's reason), and stops saying it when etcd is back.
func TestDashboardClusterDegraded(t *testing.T) {
	c := etcdtest.Start(t, 1)
	primary, secondary := newBackend(t, nil), newBackend(t, nil)
	check := "{type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 1, fall: 1}"
	n := newClusterNode(t, "node-a", c.Endpoints(), "state: "+twoDCState(t, check, primary.addr, secondary.addr)+"\nchecker: {embedded: true}\n")
	b := newBrowser(t, n.url())
	ctx := b.ctx
	signInByFragment(t, ctx, n.url(), testAdminToken, "map")
	waitJS(t, ctx, `document.querySelector("#banner").hidden`, 5*time.Second, "no banner while etcd answers")

	stopped := time.Now()
	c.Stop()
	waitJS(t, ctx, `!document.querySelector("#banner").hidden && document.querySelector("#banner").textContent.includes("cut off from the shared store") && document.querySelector("#banner").textContent.includes("etcd unreachable")`,
		20*time.Second, "the banner saying the node serves its last known state")
	t.Logf("etcd stopped: the banner said so %v after the stop began", time.Since(stopped).Round(time.Millisecond))
	shot := b.screenshot(t, ctx, "cluster-degraded", false)
	keepScreenshot(t, shot, "screenshot-cluster-degraded.png")
	if live := eval[string](t, ctx, `document.querySelector("#stream-status").dataset.state`); live != "live" {
		t.Errorf("the stream is %q while the node serves; want live", live)
	}

	c.Restart()
	waitJS(t, ctx, `document.querySelector("#banner").hidden`, 30*time.Second, "the banner gone once etcd is back")
}
