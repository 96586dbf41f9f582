package addontest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Paths the fake serves, relative to [Server.URL]. They are exported so that
// a [Fault] can name them.
const (
	CapabilitiesPath = "/v2/capabilities"
	TokenPath        = "/v2/oauth/token"
	APIPath          = "/v2/"
	RoomPath         = "/v2/room/"
	UserPath         = "/v2/user/"
	GlancePath       = "/v2/addon/ui"
	InstallablePath  = "/v2/oauth/installable/"
	RedirectPath     = "/addons/installed"
	AuthorizePath    = "/users/authorize"
	AllJSPath        = "/atlassian-connect/all.js"
	AllCSSPath       = "/atlassian-connect/all.css"
)

// Defaults of a new [Server].
const (
	DefaultGroupID       = 1
	DefaultGroupName     = "Test Group"
	DefaultTokenLifetime = time.Hour
	DefaultRateLimit     = 500
	// RateLimitWindow is the period the API's rate limit counts requests
	// over, per access token.
	RateLimitWindow = 5 * time.Minute
	// DefaultJWTLifetime is the lifetime of the JWTs the fake signs when a
	// caller does not choose one.
	DefaultJWTLifetime = 15 * time.Minute
)

// Server is a fake HipChat server speaking the add-on protocol over real
// loopback HTTP, in the manner of [httptest.Server]. It installs add-ons,
// issues OAuth tokens, serves the API calls add-ons make and records them,
// signs requests to the add-on, and can inject faults.
//
// All methods are safe for concurrent use. The values a Server returns are
// copies.
type Server struct {
	// URL is the base URL of the fake, such as http://127.0.0.1:PORT, with
	// no trailing slash.
	URL string

	ts        *httptest.Server
	client    *http.Client
	browser   *http.Client
	transport *http.Transport
	done      chan struct{}
	closeOnce sync.Once

	clock         func() time.Time
	groupID       int
	groupName     string
	tokenLifetime time.Duration
	rateLimit     int
	signDefaults  signing

	mu sync.Mutex // guards every field below
	// clients are the live OAuth clients, by oauthId.
	clients map[string]*oauthClient
	// forgotten keeps clients HipChat no longer knows, for lookups by
	// Installation after an uninstall.
	forgotten    map[string]*oauthClient
	tokens       map[string]*accessToken
	installables map[string]*installable
	rooms        map[int]Room
	users        map[int]User
	faults       []*faultState
	rec          records
	// changed is closed and replaced whenever something is recorded, to
	// wake waiters.
	changed chan struct{}
	seq     int
}

// Option configures a [Server] at creation.
type Option func(*Server)

// WithGroup sets the HipChat group the fake installs add-ons in. The default
// is [DefaultGroupID] and [DefaultGroupName].
func WithGroup(id int, name string) Option {
	return func(s *Server) { s.groupID, s.groupName = id, name }
}

// WithTokenLifetime sets the lifetime of the access tokens the token
// endpoint issues ([DefaultTokenLifetime] by default). HipChat documented both
// one hour and eight hours.
func WithTokenLifetime(d time.Duration) Option {
	return func(s *Server) { s.tokenLifetime = d }
}

// WithClock sets the clock used for access token expiry, rate-limit windows
// and the iat and exp of signed JWTs. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.clock = now }
}

// WithRateLimit sets how many API requests one access token may make per
// [RateLimitWindow] before the API answers 429 ([DefaultRateLimit] by
// default, HipChat's limit for add-on tokens).
func WithRateLimit(n int) Option {
	return func(s *Server) { s.rateLimit = n }
}

// WithWebhookSigning sets where the fake puts the JWT of the webhooks it
// sends ([SignHeader] by default); [SignedWith] overrides it per call.
func WithWebhookSigning(style SignStyle) Option {
	return func(s *Server) { s.signDefaults.style = style }
}

// WithLegacySubject makes the fake put the user id of signed requests in the
// "prn" claim, as older HipChat versions did, instead of "sub".
func WithLegacySubject() Option {
	return func(s *Server) { s.signDefaults.legacyPrn = true }
}

// NewServer starts a fake HipChat on a loopback port. The caller must call
// Close when done; [NewTestServer] does that itself.
func NewServer(opts ...Option) *Server {
	s := &Server{
		done:          make(chan struct{}),
		clock:         time.Now,
		groupID:       DefaultGroupID,
		groupName:     DefaultGroupName,
		tokenLifetime: DefaultTokenLifetime,
		rateLimit:     DefaultRateLimit,
		clients:       map[string]*oauthClient{},
		forgotten:     map[string]*oauthClient{},
		tokens:        map[string]*accessToken{},
		installables:  map[string]*installable{},
		rooms:         map[int]Room{},
		users:         map[int]User{},
		changed:       make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}

	s.ts = httptest.NewServer(s.handler())
	s.URL = s.ts.URL

	s.transport = &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	s.client = &http.Client{Transport: s.transport, Timeout: 30 * time.Second}
	s.browser = &http.Client{
		Transport: s.transport,
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return s
}

// NewTestServer is like [NewServer] and also registers Close with
// t.Cleanup.
func NewTestServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// Close stops the fake: it interrupts injected latency, waits for the
// requests in flight and closes idle connections to the add-on. It may be
// called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ts.Close()
		s.transport.CloseIdleConnections()
	})
}

// CapabilitiesURL returns the URL of HipChat's capabilities document, the
// capabilitiesUrl sent to the add-on on install.
func (s *Server) CapabilitiesURL() string { return s.URL + CapabilitiesPath }

// TokenURL returns the URL of the OAuth token endpoint.
func (s *Server) TokenURL() string { return s.URL + TokenPath }

// APIURL returns the API base, ending in "/v2/".
func (s *Server) APIURL() string { return s.URL + APIPath }

// Client returns the HTTP client the fake uses to call the add-on. It
// follows redirects; the browser steps of client-side flows do not.
func (s *Server) Client() *http.Client { return s.client }

// GroupID returns the id of the fake's HipChat group.
func (s *Server) GroupID() int { return s.groupID }

// now reads the fake's clock.
func (s *Server) now() time.Time { return s.clock() }

// handler builds the routing of the fake: faults and recording wrap every
// route.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CapabilitiesPath, s.serveCapabilities)
	mux.HandleFunc("POST "+TokenPath, s.serveToken)
	mux.HandleFunc("GET "+InstallablePath+"{nonce}", s.serveInstallable)
	mux.HandleFunc("GET "+RedirectPath, serveText("add-on flow complete\n"))
	mux.HandleFunc("GET "+AuthorizePath, serveText("authorization page\n"))
	mux.HandleFunc("GET "+AllJSPath, serveScript)
	mux.HandleFunc("GET "+AllCSSPath, serveText("/* HipChat styles */\n"))
	s.apiRoutes(mux)
	return s.record(s.injectFaults(mux))
}

// serveText returns a handler answering a fixed plain text.
func serveText(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	}
}

// serveScript serves a stand-in for HipChat's JavaScript API, so that pages
// which load it do not fail.
func serveScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/javascript")
	_, _ = w.Write([]byte("window.HipChat = window.HipChat || {};\n"))
}

// wait blocks for d, or until ctx is done or the server closes. It reports
// whether the whole duration passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// join appends p to base, with exactly one slash between them.
func join(base, p string) string {
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(p, "/")
}
