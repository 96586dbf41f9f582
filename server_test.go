package addon

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRoutesFollowTheDescriptor(t *testing.T) {
	noop := http.NotFoundHandler()
	a, err := Open(testDescriptor("https://addon.example.com/base"), NewMemoryInstallationStore(),
		Logger(discardLogger()), OnGlanceQuery("status", nil), ConfigurableHandler(noop),
		PageHandler("dlg", noop))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range a.Routes() {
		got[r.Path] = r.Methods
	}
	want := map[string][]string{
		"/base/capabilities.json": {"GET", "HEAD"},
		"/base/installable":       {"POST"},
		"/base/installable/":      {"DELETE"},
		"/base/installed":         {"GET"},
		"/base/uninstalled":       {"GET"},
		"/base/webhook":           {"POST"},
		"/base/glance":            {"GET", "OPTIONS"},
		"/base/configure":         {"GET", "HEAD", "POST"},
		"/base/dialog":            {"GET", "HEAD", "POST"},
	}
	for path, methods := range want {
		if !slices.Equal(got[path], methods) {
			t.Errorf("route %s: methods %v, want %v", path, got[path], methods)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d routes, want %d: %v", len(got), len(want), got)
	}

	// Routes mount on any mux; the descriptor is served as JSON.
	mux := http.NewServeMux()
	for _, route := range a.Routes() {
		mux.HandleFunc(route.Path, route.Handler)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/base/capabilities.json", nil))
	var d CapabilitiesDescriptor
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &d) != nil || d.Key != "test-addon" {
		t.Errorf("descriptor route: %d %s", rec.Code, rec.Body)
	}
}

// closingStore counts Close calls.
type closingStore struct {
	*MemoryInstallationStore
	closed atomic.Int32
}

func (s *closingStore) Close() error {
	s.closed.Add(1)
	return nil
}

func TestServeAndShutdown(t *testing.T) {
	store := &closingStore{MemoryInstallationStore: NewMemoryInstallationStore()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	a, err := Open(testDescriptor(base), store, Logger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.ServeListener(ln) }()

	resp, err := http.Get(base + "/capabilities.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, done); err != nil {
		t.Errorf("Serve after Shutdown returned %v, want nil", err)
	}
	if err := a.Close(); err != nil || store.closed.Load() != 1 {
		t.Errorf("Close: %v, store closed %d times", err, store.closed.Load())
	}
	if err := a.Close(); err != nil || store.closed.Load() != 1 {
		t.Errorf("second Close: %v, store closed %d times", err, store.closed.Load())
	}
	if err := a.Serve("127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Serve after Close: %v", err)
	}
}

func TestServeReportsListenErrors(t *testing.T) {
	a, err := Open(testDescriptor("https://a.example.com"), NewMemoryInstallationStore(),
		Logger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve("256.0.0.1:bad"); err == nil {
		t.Error("Serve on a bad address returned nil")
	}
}
