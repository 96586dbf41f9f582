package addon

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hipchat-connect/addon/addontest"
)

// fixture is an add-on served over loopback HTTP next to a fake HipChat
// that trusts nothing but each other.
type fixture struct {
	hc    *addontest.Server
	srv   *httptest.Server
	a     *HipChatAddon
	store InstallationStore
	base  string
	log   *recordingLogger
}

// setup starts a fake HipChat and an add-on built from testDescriptor,
// changed by edit when it is not nil.
func setup(t testing.TB, edit func(*CapabilitiesDescriptor), opts ...Option) *fixture {
	t.Helper()
	hc := addontest.NewTestServer(t)
	f := newFixture(t, hc, NewMemoryInstallationStore(), edit, opts...)
	return f
}

func newFixture(t testing.TB, hc *addontest.Server, store InstallationStore,
	edit func(*CapabilitiesDescriptor), opts ...Option) *fixture {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	d := testDescriptor(srv.URL)
	if edit != nil {
		edit(d)
	}
	log := &recordingLogger{}
	all := append([]Option{TrustedServers(hc.URL), Logger(log)}, opts...)
	a, err := Open(d, store, all...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	mux.Handle("/", a.Handler())
	return &fixture{hc: hc, srv: srv, a: a, store: store, base: srv.URL, log: log}
}

// testDescriptor declares a bit of everything, served from base.
func testDescriptor(base string) *CapabilitiesDescriptor {
	return &CapabilitiesDescriptor{
		Key:         "test-addon",
		Name:        "Test add-on",
		Description: "An add-on for tests.",
		Links:       Links{Self: base + "/capabilities.json"},
		Capabilities: Capabilities{
			HipchatAPIConsumer: &HipchatAPIConsumer{
				Scopes: []string{ScopeSendNotification, ScopeSendMessage, ScopeViewRoom},
			},
			Installable: &Installable{
				CallbackURL:    base + "/installable",
				InstalledURL:   base + "/installed",
				UninstalledURL: base + "/uninstalled",
			},
			Configurable: &Configurable{URL: base + "/configure"},
			Webhooks: []Webhook{
				{Event: EventRoomMessage, URL: base + "/webhook", Pattern: "^/test"},
				{Event: EventRoomEnter, URL: base + "/webhook"},
			},
			Glances: []Glance{{
				Key:      "status",
				Name:     I18n{Value: "Status"},
				QueryURL: base + "/glance",
				Icon:     Icon{URL: base + "/icon.png"},
			}},
			Dialogs: []Dialog{{Key: "dlg", Title: I18n{Value: "Dialog"}, URL: base + "/dialog"}},
		},
	}
}

// install installs the fixture's add-on in room (0: globally).
func (f *fixture) install(t testing.TB, room int) *addontest.Installation {
	t.Helper()
	inst, err := f.hc.Install(t.Context(), f.base+"/capabilities.json",
		addontest.InstallOptions{RoomID: room})
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	return inst
}

// stored returns the add-on's copy of an installation.
func (f *fixture) stored(t testing.TB, oauthID string) *Installation {
	t.Helper()
	inst, err := f.store.Get(t.Context(), oauthID)
	if err != nil {
		t.Fatalf("store.Get(%s): %v", oauthID, err)
	}
	return inst
}

// recordingLogger keeps log lines for tests to search.
type recordingLogger struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *recordingLogger) add(level, format string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+": "+fmt.Sprintf(format, args...))
}

func (l *recordingLogger) Debugf(format string, args ...any) { l.add("debug", format, args) }
func (l *recordingLogger) Infof(format string, args ...any)  { l.add("info", format, args) }
func (l *recordingLogger) Warnf(format string, args ...any)  { l.add("warn", format, args) }
func (l *recordingLogger) Errorf(format string, args ...any) { l.add("error", format, args) }

func (l *recordingLogger) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// waitFor waits for a value on ch, failing the test after a generous
// deadline (the deadline guards against hangs; it is not a speed check).
func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a callback")
	}
	var zero T
	return zero
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// httptestServer serves h over loopback and returns its URL.
func httptestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
