package addontest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hipchat-connect/addon/addontest"
)

// credentials is the install JSON as the test add-on reads it.
type credentials struct {
	OAuthID         string `json:"oauthId"`
	OAuthSecret     string `json:"oauthSecret"`
	CapabilitiesURL string `json:"capabilitiesUrl"`
	GroupID         int    `json:"groupId"`
	RoomID          *int   `json:"roomId"`

	// path is where the add-on received the credentials.
	path string
}

// hit is a request the test add-on received.
type hit struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// testAddon is a small hand-written add-on that records what the fake sends
// it.
type testAddon struct {
	t   testing.TB
	srv *httptest.Server

	mu sync.Mutex // guards the fields below
	// descriptor builds the descriptor for the add-on's base URL.
	descriptor func(base string) map[string]any
	// installStatus answers install and update POSTs; zero means 204.
	installStatus int
	// onInstall, when set, runs before the install POST is answered.
	onInstall func(credentials)
	// skipFetch makes the client-side pages redirect without fetching
	// installable_url; redirectTo overrides the redirect target.
	skipFetch  bool
	redirectTo string
	// onOther, when set, runs for every other request before it is
	// answered.
	onOther func(r *http.Request)
	// reply is the body the add-on answers webhooks with.
	reply    string
	installs []credentials
	hits     []hit
}

// newTestAddon starts a test add-on with the default descriptor.
func newTestAddon(t testing.TB) *testAddon {
	t.Helper()
	a := &testAddon{t: t, descriptor: defaultDescriptor}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /capabilities.json", a.serveDescriptor)
	mux.HandleFunc("POST /installed", a.serveInstall)
	mux.HandleFunc("POST /updated", a.serveInstall)
	mux.HandleFunc("GET /client/", a.serveClientSide)
	mux.HandleFunc("/", a.serveOther)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// url returns the add-on's URL for path.
func (a *testAddon) url(path string) string { return a.srv.URL + path }

// descriptorURL is where the add-on serves its descriptor.
func (a *testAddon) descriptorURL() string { return a.url("/capabilities.json") }

func (a *testAddon) set(f func(a *testAddon)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *testAddon) recorded() ([]credentials, []hit) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]credentials(nil), a.installs...), append([]hit(nil), a.hits...)
}

// lastHit returns the last request the add-on received outside installs.
func (a *testAddon) lastHit() hit {
	a.t.Helper()
	_, hits := a.recorded()
	if len(hits) == 0 {
		a.t.Fatal("the add-on received no request")
	}
	return hits[len(hits)-1]
}

func defaultDescriptor(base string) map[string]any {
	return map[string]any{
		"key": "test-addon", "name": "Test add-on", "description": "for tests",
		"links": map[string]any{"self": base + "/capabilities.json"},
		"capabilities": map[string]any{
			"hipchatApiConsumer": map[string]any{
				"scopes": []string{"send_notification", "send_message", "view_room"},
			},
			"installable": map[string]any{
				"callbackUrl":    base + "/installed",
				"installedUrl":   base + "/client/installed",
				"uninstalledUrl": base + "/client/uninstalled",
			},
			"webhook": []map[string]any{
				{"event": "room_message", "url": base + "/webhook/echo", "pattern": "^/echo",
					"authentication": "jwt", "key": "echo"},
				{"event": "room_message", "url": base + "/webhook/all", "authentication": "jwt"},
				{"event": "room_enter", "url": base + "/webhook/enter"},
			},
			"glance": []map[string]any{
				{"key": "status", "queryUrl": base + "/glance",
					"icon": map[string]string{"url": base + "/icon.png"}},
				{"key": "other", "icon": map[string]string{"url": base + "/icon.png"}},
			},
			"configurable": map[string]any{"url": base + "/config"},
			"dialog":       []map[string]any{{"key": "dlg", "url": "/dialog?x=1"}},
		},
	}
}

func (a *testAddon) serveDescriptor(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	d := a.descriptor(a.srv.URL)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(d)
}

func (a *testAddon) serveInstall(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	c.path = r.URL.Path
	a.mu.Lock()
	a.installs = append(a.installs, c)
	hook, status := a.onInstall, a.installStatus
	a.mu.Unlock()
	if hook != nil {
		hook(c)
	}
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}

// serveClientSide plays installedUrl and uninstalledUrl.
func (a *testAddon) serveClientSide(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	skip, to := a.skipFetch, a.redirectTo
	a.mu.Unlock()
	q := r.URL.Query()
	if !skip {
		resp, err := http.Get(q.Get("installable_url"))
		if err != nil || resp.StatusCode != http.StatusOK {
			http.Error(w, "cannot fetch installable", http.StatusBadGateway)
			return
		}
		var c credentials
		err = json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		if err != nil {
			http.Error(w, "bad installable", http.StatusBadGateway)
			return
		}
		c.path = r.URL.Path
		a.mu.Lock()
		a.installs = append(a.installs, c)
		a.hits = append(a.hits, hit{Method: r.Method, Path: r.URL.Path, Query: q})
		a.mu.Unlock()
	}
	if to == "" {
		to = q.Get("redirect_url")
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// serveOther records any other request and answers with the reply.
func (a *testAddon) serveOther(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.hits = append(a.hits, hit{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Header: r.Header.Clone(), Body: body,
	})
	reply, hook := a.reply, a.onOther
	a.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	if reply != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	_, _ = io.WriteString(w, reply)
}

// install installs the test add-on and fails the test on error.
func install(t testing.TB, hc *addontest.Server, a *testAddon,
	o addontest.InstallOptions) *addontest.Installation {
	t.Helper()
	inst, err := hc.Install(t.Context(), a.descriptorURL(), o)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	return inst
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	GroupID     int    `json:"group_id"`
	GroupName   string `json:"group_name"`
}

// requestToken asks the token endpoint with a form body and returns the
// status and the decoded answer.
func requestToken(t testing.TB, hc *addontest.Server, id, secret, scope string) (int, tokenResponse) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, hc.TokenURL(),
		strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	var tr tokenResponse
	status, _ := doJSONStatus(t, req, &tr)
	return status, tr
}

// mustToken returns an access token for inst with scope.
func mustToken(t testing.TB, hc *addontest.Server, inst *addontest.Installation, scope string) string {
	t.Helper()
	status, tr := requestToken(t, hc, inst.OAuthID, inst.OAuthSecret, scope)
	if status != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("token request: status %d", status)
	}
	return tr.AccessToken
}

// call makes an API call with a bearer token and returns the status, the
// headers and the body. It may be used from any goroutine: a transport
// error is reported with t.Errorf and gives status 0.
func call(t testing.TB, method, u, token, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, u, err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// doJSONStatus sends req and decodes a JSON answer into v, whatever the
// status.
func doJSONStatus(t testing.TB, req *http.Request, v any) (int, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
	return resp.StatusCode, resp.Header
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2016, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
