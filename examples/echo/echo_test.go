package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hipchat-connect/addon"
	"github.com/hipchat-connect/addon/addontest"
	"github.com/sirupsen/logrus"
)

// startEcho serves the echo add-on with its state in stateFile, trusting
// the fake HipChat hc, and returns its base URL.
func startEcho(t *testing.T, hc *addontest.Server, srv *httptest.Server, mux *http.ServeMux, stateFile string) (*addon.HipChatAddon, *echoer) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	e := newEchoer(log)
	opts := append(e.options(), addon.TrustedServers(hc.URL))
	a, err := addon.OpenWithStateFile(descriptor(srv.URL), stateFile, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", a.Handler())
	return a, e
}

func TestEcho(t *testing.T) {
	hc := addontest.NewTestServer(t)
	mux := &swappableMux{}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	state := filepath.Join(t.TempDir(), "echo.db")

	m := http.NewServeMux()
	mux.set(m)
	a, _ := startEcho(t, hc, srv, m, state)
	inst, err := hc.Install(t.Context(), srv.URL+"/capabilities.json", addontest.InstallOptions{RoomID: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc.WaitNotifications(t.Context(), 1); err != nil { // the welcome
		t.Fatal(err)
	}

	from := addontest.User{ID: 1, Name: "Ann", MentionName: "ann"}
	resp, err := hc.SendRoomMessage(t.Context(), inst.OAuthID, 7, from, "/echo hello <world>")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	notes, err := hc.WaitNotifications(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := notes[1]; got.Message != "hello <world>" || got.RoomID != 7 || got.MessageFormat != "text" {
		t.Errorf("echo notification %+v", got)
	}
	glances, err := hc.WaitGlanceUpdates(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if g := glances[0]; g.RoomID != 7 || len(g.Glances) != 1 || !strings.Contains(string(g.Glances[0].Content), `"1"`) {
		t.Errorf("glance update %+v", g)
	}

	// The glance query shows the same count.
	resp, err = hc.QueryGlance(t.Context(), inst.OAuthID, glanceKey, "1", 7)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"label":"1"`) {
		t.Errorf("glance query: %d %s", resp.StatusCode, body)
	}

	// Killed and restarted with the same state file, it still knows the
	// installation.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	m = http.NewServeMux()
	mux.set(m)
	a, _ = startEcho(t, hc, srv, m, state)
	t.Cleanup(func() { a.Close() })
	resp, err = hc.SendRoomMessage(t.Context(), inst.OAuthID, 7, from, "/echo again")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	notes, err = hc.WaitNotifications(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if notes[2].Message != "again" {
		t.Errorf("after restart: %+v", notes[2])
	}
}

// swappableMux lets a test restart the add-on behind the same URL.
type swappableMux struct {
	mu sync.Mutex // guards h
	h  http.Handler
}

func (s *swappableMux) set(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *swappableMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

func TestServerServesIconAndDescriptor(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	a, srv, err := newServer(log, "127.0.0.1:0", "https://echo.example.com",
		filepath.Join(t.TempDir(), "echo.db"), []string{addon.DefaultHipChatServer})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for path, want := range map[string]string{
		"/icon.svg":          "image/svg+xml",
		"/capabilities.json": "application/json",
	} {
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != want {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}
