package addon

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testNow is the clock every verifier in these tests reads.
var testNow = time.Date(2016, 3, 14, 15, 9, 26, 0, time.UTC)

var (
	globalInst = &Installation{
		OAuthID: "oauth-global", OAuthSecret: "global-secret-0123456789",
		GroupID: 7, APIURL: "https://hipchat.example.com/v2/",
	}
	roomInst = &Installation{
		OAuthID: "oauth-room", OAuthSecret: "room-secret-0123456789",
		GroupID: 7, RoomID: 42, APIURL: "https://hipchat.example.com/v2/",
	}
)

// countingStore counts how often the verifier consults the store.
type countingStore struct {
	InstallationStore
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, oauthID string) (*Installation, error) {
	s.gets.Add(1)
	return s.InstallationStore.Get(ctx, oauthID)
}

// failingStore fails every lookup, as a store whose database is down.
type failingStore struct{ InstallationStore }

func (failingStore) Get(context.Context, string) (*Installation, error) {
	return nil, errors.New("database unavailable")
}

// recLogger records log lines with their level.
type recLogger struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *recLogger) logf(level, format string, args []interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+": "+fmt.Sprintf(format, args...))
}

func (l *recLogger) Debugf(f string, a ...interface{}) { l.logf("debug", f, a) }
func (l *recLogger) Infof(f string, a ...interface{})  { l.logf("info", f, a) }
func (l *recLogger) Warnf(f string, a ...interface{})  { l.logf("warn", f, a) }
func (l *recLogger) Errorf(f string, a ...interface{}) { l.logf("error", f, a) }

func (l *recLogger) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// newTestVerifier returns a verifier on a fixed clock whose store holds
// globalInst and roomInst.
func newTestVerifier(t testing.TB) (*verifier, *countingStore, *recLogger) {
	t.Helper()
	mem := NewMemoryInstallationStore()
	for _, inst := range []*Installation{globalInst, roomInst} {
		if err := mem.Add(context.Background(), inst); err != nil {
			t.Fatal(err)
		}
	}
	store := &countingStore{InstallationStore: mem}
	logger := &recLogger{}
	v := newVerifier(store, logger)
	v.now = func() time.Time { return testNow }
	return v, store, logger
}

// baseClaims are valid claims from globalInst, issued a minute ago.
func baseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": globalInst.OAuthID, "sub": "1234", "jti": "abc",
		"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(time.Hour).Unix(),
		"context": map[string]any{"room_id": 99, "user_tz": "Europe/Paris"},
	}
}

// sign makes a token of claims with the given method and key.
func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// hs256 signs claims, modified by edit, as globalInst.
func hs256(t testing.TB, edit func(jwt.MapClaims)) string {
	t.Helper()
	c := baseClaims()
	if edit != nil {
		edit(c)
	}
	return sign(t, jwt.SigningMethodHS256, []byte(globalInst.OAuthSecret), c)
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKey = k
	})
	return rsaKey
}

// tamper replaces a token's payload, keeping its header and signature.
func tamper(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	c := baseClaims()
	c["sub"] = "1"
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// tokenCase is a request to verify and what should come of it.
type tokenCase struct {
	name    string
	header  string // Authorization header, if any
	query   string // raw query string, if any
	wantErr error  // nil means accepted
	noStore bool   // the store must not be consulted
}

func tokenCases(t *testing.T) []tokenCase {
	t.Helper()
	valid := hs256(t, nil)
	secret := []byte(globalInst.OAuthSecret)
	huge := strings.Repeat("a", DefaultMaxTokenSize+1)
	return []tokenCase{
		{name: "header", header: "JWT " + valid},
		{name: "header token=", header: "JWT token=" + valid},
		{name: "header lower-case scheme", header: "jwt " + valid},
		{name: "header mixed-case token=", header: "Jwt Token=" + valid},
		{name: "query", query: "signed_request=" + valid},
		{name: "query among others", query: "theme=dark&signed_request=" + valid + "&lang=en"},
		{name: "query key escaped", query: "signed%5Frequest=" + valid},
		{name: "query value escaped", query: "signed_request=" + strings.Replace(valid, ".",
			"%2E", 1)},
		{name: "query pair with semicolon", query: "signed_request=" + valid + ";x=1",
			wantErr: ErrMissingToken, noStore: true},
		{name: "query badly escaped", query: "signed_request=%zz",
			wantErr: ErrInvalidToken, noStore: true},
		{name: "query without value", query: "a=1&signed_request",
			wantErr: ErrMissingToken, noStore: true},
		{name: "missing", wantErr: ErrMissingToken, noStore: true},
		{name: "other scheme", header: "Bearer " + valid, wantErr: ErrMissingToken, noStore: true},
		{name: "empty header token", header: "JWT  ", wantErr: ErrMissingToken, noStore: true},
		{name: "empty query token", query: "signed_request=", wantErr: ErrMissingToken, noStore: true},
		{name: "query twice", query: "signed_request=" + valid + "&signed_request=" + valid,
			wantErr: ErrInvalidToken, noStore: true},
		{name: "not a JWT", header: "JWT hello", wantErr: ErrInvalidToken, noStore: true},
		{name: "wrong signature", header: "JWT " + sign(t, jwt.SigningMethodHS256,
			[]byte("not-the-secret"), baseClaims()), wantErr: ErrInvalidToken},
		{name: "alg none", header: "JWT " + sign(t, jwt.SigningMethodNone,
			jwt.UnsafeAllowNoneSignatureType, baseClaims()), wantErr: ErrInvalidToken, noStore: true},
		{name: "HS384", header: "JWT " + sign(t, jwt.SigningMethodHS384, secret, baseClaims()),
			wantErr: ErrInvalidToken, noStore: true},
		{name: "HS512", header: "JWT " + sign(t, jwt.SigningMethodHS512, secret, baseClaims()),
			wantErr: ErrInvalidToken, noStore: true},
		{name: "RS256", header: "JWT " + sign(t, jwt.SigningMethodRS256, testRSAKey(t),
			baseClaims()), wantErr: ErrInvalidToken, noStore: true},
		{name: "expired", header: "JWT " + hs256(t, func(c jwt.MapClaims) {
			c["exp"] = testNow.Add(-time.Minute).Unix()
		}), wantErr: ErrInvalidToken},
		{name: "expired within skew", header: "JWT " + hs256(t, func(c jwt.MapClaims) {
			c["exp"] = testNow.Add(-20 * time.Second).Unix()
		})},
		{name: "exp missing", header: "JWT " + hs256(t, func(c jwt.MapClaims) {
			delete(c, "exp")
		}), wantErr: ErrInvalidToken},
		{name: "iat in the future", header: "JWT " + hs256(t, func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(2 * time.Minute).Unix()
		}), wantErr: ErrInvalidToken},
		{name: "iat within skew", header: "JWT " + hs256(t, func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(20 * time.Second).Unix()
		})},
		{name: "unknown iss", header: "JWT " + hs256(t, func(c jwt.MapClaims) {
			c["iss"] = "oauth-nobody"
		}), wantErr: ErrUnknownInstallation},
		{name: "empty iss", header: "JWT " + hs256(t, func(c jwt.MapClaims) {
			delete(c, "iss")
		}), wantErr: ErrInvalidToken, noStore: true},
		{name: "tampered payload", header: "JWT " + tamper(t, valid), wantErr: ErrInvalidToken},
		{name: "bad room_id", header: "JWT " + hs256(t, func(c jwt.MapClaims) {
			c["context"] = map[string]any{"room_id": "lobby"}
		}), wantErr: ErrInvalidToken, noStore: true},
		{name: "oversized header", header: "JWT " + huge, wantErr: ErrTokenTooLarge, noStore: true},
		{name: "oversized token in header", header: "JWT token=" + huge + "1234567",
			wantErr: ErrTokenTooLarge, noStore: true},
		{name: "oversized query", query: "signed_request=" + huge + huge,
			wantErr: ErrTokenTooLarge, noStore: true},
		{name: "oversized token in query", query: "signed_request=" + huge,
			wantErr: ErrTokenTooLarge, noStore: true},
	}
}

func newTokenRequest(tc tokenCase) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/glance", nil)
	r.URL.RawQuery = tc.query
	if tc.header != "" {
		r.Header.Set("Authorization", tc.header)
	}
	return r
}

func TestVerify(t *testing.T) {
	for _, tc := range tokenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			v, store, _ := newTestVerifier(t)
			inst, claims, err := v.verify(newTokenRequest(tc))

			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if inst.OAuthID != globalInst.OAuthID || claims.UserID() != "1234" {
					t.Errorf("verify = %v, %+v", inst, claims)
				}
			} else if !errors.Is(err, tc.wantErr) || inst != nil || claims != nil {
				t.Errorf("verify = %v, %v, %v; want error %v", inst, claims, err, tc.wantErr)
			}
			if n := store.gets.Load(); tc.noStore && n != 0 {
				t.Errorf("store consulted %d times", n)
			}
		})
	}
}

func TestVerifyErrorDetail(t *testing.T) {
	v, _, _ := newTestVerifier(t)
	expired := hs256(t, func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Hour).Unix() })
	_, _, err := v.verify(newTokenRequest(tokenCase{header: "JWT " + expired}))
	if !errors.Is(err, jwt.ErrTokenExpired) || !strings.HasPrefix(err.Error(), "addon: ") {
		t.Errorf("err = %v, want one wrapping jwt.ErrTokenExpired", err)
	}
	if strings.Contains(err.Error(), expired) {
		t.Errorf("error %q contains the token", err)
	}
}

// newTestServer serves a handler that reports what the context says,
// behind the verifier's middleware.
func newTestServer(t *testing.T, v *verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(v.middleware(http.HandlerFunc(reportContext)))
	t.Cleanup(srv.Close)
	return srv
}

// contextReport is what reportContext found in a request's context.
type contextReport struct {
	OAuthID string
	UserID  string
	HasUser bool
	RoomID  int
	HasRoom bool
	UserTZ  string
}

func reportContext(w http.ResponseWriter, r *http.Request) {
	var rep contextReport
	inst, ok := InstallationFromContext(r.Context())
	claims, ok2 := ClaimsFromContext(r.Context())
	if !ok || !ok2 {
		http.Error(w, "no auth context", http.StatusTeapot)
		return
	}
	rep.OAuthID, rep.UserTZ = inst.OAuthID, claims.Context.UserTZ
	rep.UserID, rep.HasUser = UserIDFromContext(r.Context())
	rep.RoomID, rep.HasRoom = RoomIDFromContext(r.Context())
	if err := json.NewEncoder(w).Encode(rep); err != nil {
		panic(err)
	}
}

func doRequest(t *testing.T, srv *httptest.Server, tc tokenCase) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/glance?"+tc.query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tc.header != "" {
		req.Header.Set("Authorization", tc.header)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestMiddleware(t *testing.T) {
	v, store, logger := newTestVerifier(t)
	srv := newTestServer(t, v)

	for _, tc := range tokenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			store.gets.Store(0)
			resp, body := doRequest(t, srv, tc)
			lines := logger.take()

			if tc.wantErr == nil {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, body %q", resp.StatusCode, body)
				}
				if len(lines) != 0 {
					t.Errorf("logged %q for an accepted request", lines)
				}
				return
			}
			checkRefusal(t, tc, resp, body, lines)
			if n := store.gets.Load(); tc.noStore && n != 0 {
				t.Errorf("store consulted %d times", n)
			}
		})
	}
}

// checkRefusal checks that a refused request was answered 401 without
// saying why, and that the reason was logged without the token.
func checkRefusal(t *testing.T, tc tokenCase, resp *http.Response, body string, lines []string) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != "JWT" {
		t.Errorf("WWW-Authenticate = %q, want JWT", got)
	}
	if body != "unauthorized\n" {
		t.Errorf("body %q says more than unauthorized", body)
	}

	if len(lines) != 1 {
		t.Fatalf("logged %q, want one line", lines)
	}
	line := lines[0]
	if !strings.Contains(line, `"/glance"`) || strings.HasPrefix(line, "error") {
		t.Errorf("log line %q lacks the route or has the wrong level", line)
	}
	for _, secret := range []string{tc.header, tc.query, "signed_request=", "eyJ"} {
		if secret != "" && strings.Contains(line, secret) {
			t.Errorf("log line %q contains %q", line, clip(secret, 40))
		}
	}
}

func TestMiddlewareLogsClaimedIssuer(t *testing.T) {
	v, _, logger := newTestVerifier(t)
	srv := newTestServer(t, v)
	tok := sign(t, jwt.SigningMethodHS256, []byte("guess"), baseClaims())

	resp, _ := doRequest(t, srv, tokenCase{query: "signed_request=" + tok})
	lines := logger.take()
	if resp.StatusCode != http.StatusUnauthorized || len(lines) != 1 {
		t.Fatalf("status %d, log %q", resp.StatusCode, lines)
	}
	if !strings.HasPrefix(lines[0], "warn: ") || !strings.Contains(lines[0], globalInst.OAuthID) {
		t.Errorf("log line %q: want a warning naming the claimed issuer", lines[0])
	}
}

func TestMiddlewareStoreFailure(t *testing.T) {
	logger := &recLogger{}
	v := newVerifier(failingStore{}, logger)
	v.now = func() time.Time { return testNow }
	srv := newTestServer(t, v)

	resp, body := doRequest(t, srv, tokenCase{header: "JWT " + hs256(t, nil)})
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "database") {
		t.Errorf("status %d, body %q; want 500 without detail", resp.StatusCode, body)
	}
	if lines := logger.take(); len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
		t.Errorf("logged %q, want one error line", lines)
	}
}

func TestMiddlewareContext(t *testing.T) {
	v, _, _ := newTestVerifier(t)
	srv := newTestServer(t, v)
	roomToken := func(edit func(jwt.MapClaims)) string {
		c := baseClaims()
		c["iss"] = roomInst.OAuthID
		edit(c)
		return sign(t, jwt.SigningMethodHS256, []byte(roomInst.OAuthSecret), c)
	}

	tests := []struct {
		name string
		tok  string
		want contextReport
	}{
		{"room from claim", hs256(t, nil),
			contextReport{"oauth-global", "1234", true, 99, true, "Europe/Paris"}},
		{"room id as string", hs256(t, func(c jwt.MapClaims) {
			c["context"] = map[string]any{"room_id": "123"}
		}), contextReport{"oauth-global", "1234", true, 123, true, ""}},
		{"global without room", hs256(t, func(c jwt.MapClaims) { delete(c, "context") }),
			contextReport{"oauth-global", "1234", true, 0, false, ""}},
		{"room installation", roomToken(func(c jwt.MapClaims) { delete(c, "context") }),
			contextReport{"oauth-room", "1234", true, 42, true, ""}},
		{"prn fallback", roomToken(func(c jwt.MapClaims) { delete(c, "sub"); c["prn"] = "77" }),
			contextReport{"oauth-room", "77", true, 99, true, "Europe/Paris"}},
		{"no user", hs256(t, func(c jwt.MapClaims) { delete(c, "sub") }),
			contextReport{"oauth-global", "", false, 99, true, "Europe/Paris"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := doRequest(t, srv, tokenCase{header: "JWT " + tt.tok})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			var got contextReport
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("context = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestClaimsContextRoomID(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{`{"room_id":12,"user_tz":"UTC"}`, 12, false},
		{`{"room_id":"12"}`, 12, false},
		{`{"room_id":null}`, 0, false},
		{`{"room_id":""}`, 0, false},
		{`{}`, 0, false},
		{`null`, 0, false},
		{`{"room_id":"lobby"}`, 0, true},
		{`{"room_id":-1}`, 0, true},
		{`{"room_id":"+1"}`, 0, true},
		{`{"room_id":1.5}`, 0, true},
		{`{"room_id":true}`, 0, true},
		{`{"room_id":99999999999999999999999}`, 0, true},
		{`[]`, 0, true},
	}
	for _, tt := range tests {
		var c ClaimsContext
		err := json.Unmarshal([]byte(tt.in), &c)
		if (err != nil) != tt.wantErr || c.RoomID != tt.want {
			t.Errorf("decode %s = %+v, %v; want room %d, error %v", tt.in, c, err, tt.want,
				tt.wantErr)
		}
	}
}

func TestSignTokenRoundTrip(t *testing.T) {
	v, _, _ := newTestVerifier(t)
	tok, err := signToken(roomInst, "1234", 42, testNow, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	inst, claims, err := v.verify(newTokenRequest(tokenCase{header: "JWT " + tok}))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if inst.OAuthID != roomInst.OAuthID || claims.UserID() != "1234" ||
		claims.Context.RoomID != 42 || claims.ID == "" ||
		!claims.IssuedAt.Equal(testNow) || !claims.ExpiresAt.Equal(testNow.Add(15*time.Minute)) {
		t.Errorf("verify = %v, %+v", inst, claims)
	}

	// Once its lifetime and the skew have passed, the token is refused.
	v2, _, _ := newTestVerifier(t)
	v2.now = func() time.Time { return testNow.Add(16 * time.Minute) }
	if _, _, err := v2.verify(newTokenRequest(tokenCase{header: "JWT " + tok})); !errors.Is(err,
		ErrInvalidToken) {
		t.Errorf("verify after expiry: %v", err)
	}
}

func TestSignTokenErrors(t *testing.T) {
	tests := []struct {
		name string
		inst *Installation
		ttl  time.Duration
	}{
		{"nil installation", nil, time.Minute},
		{"no secret", &Installation{OAuthID: "x"}, time.Minute},
		{"no oauthId", &Installation{OAuthSecret: "x"}, time.Minute},
		{"zero ttl", roomInst, 0},
	}
	for _, tt := range tests {
		if tok, err := signToken(tt.inst, "1", 0, testNow, tt.ttl); err == nil || tok != "" {
			t.Errorf("%s: signToken = %q, %v; want an error", tt.name, tok, err)
		}
	}
}

func TestVerifierDefaults(t *testing.T) {
	store := &countingStore{InstallationStore: NewMemoryInstallationStore()}
	v := &verifier{store: store} // zero fields mean the defaults
	if err := store.Add(context.Background(), globalInst); err != nil {
		t.Fatal(err)
	}
	tok, err := signToken(globalInst, "1", 0, time.Now().Add(20*time.Second), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.verify(newTokenRequest(tokenCase{header: "JWT " + tok})); err != nil {
		t.Errorf("verify within default skew: %v", err)
	}
	huge := "JWT " + strings.Repeat("a", DefaultMaxTokenSize+1)
	if _, _, err := v.verify(newTokenRequest(tokenCase{header: huge})); !errors.Is(err,
		ErrTokenTooLarge) {
		t.Errorf("verify over default size: %v", err)
	}
}

func FuzzExtractToken(f *testing.F) {
	tok := hs256(f, nil)
	f.Add("JWT "+tok, "", 8192)
	f.Add("jwt token="+tok, "", 100)
	f.Add("JWT token=\"abc\"", "", 3)
	f.Add("", "signed_request="+tok, 8192)
	f.Add("Basic abc", "a=1&signed_request=%41%42&b", 1)
	f.Add("JWT \t ", "signed_request=x&signed_request=y", 0)
	f.Add("", "signed%5frequest=a%2Eb+c&x=;", 10)
	f.Add("", "signed_request=abcdef;&signed_request=%41", 3)
	f.Fuzz(func(t *testing.T, header, query string, maxLen int) {
		if maxLen < 0 || maxLen > 1<<16 {
			return
		}
		r := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/", RawQuery: query}}
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		got, err := extractToken(r, maxLen)
		if len(got) > maxLen {
			t.Errorf("token of %d bytes over the %d limit", len(got), maxLen)
		}
		if (err == nil) == (got == "") {
			t.Errorf("extractToken = %q, %v", got, err)
		}

		// From the query, the token is what net/url would read.
		if _, fromHeader, _ := tokenFromHeader(header, maxLen); !fromHeader {
			vals := r.URL.Query()[signedRequestParam]
			if err == nil && (len(vals) != 1 || vals[0] != got) {
				t.Errorf("extractToken = %q, net/url reads %q", got, vals)
			}
			readable := len(query) <= maxLen+queryAllowance && len(vals) == 1 &&
				vals[0] != "" && len(vals[0]) <= maxLen
			if readable && err != nil {
				t.Errorf("extractToken: %v, net/url reads %q", err, vals)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add("JWT " + hs256(f, nil))
	f.Add("JWT token=" + hs256(f, func(c jwt.MapClaims) { c["context"] = "x" }))
	f.Add("JWT " + sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, baseClaims()))
	f.Add("JWT " + sign(f, jwt.SigningMethodHS384, []byte(globalInst.OAuthSecret), baseClaims()))
	f.Add("JWT " + hs256(f, func(c jwt.MapClaims) { delete(c, "exp") }))
	f.Add("JWT a.b.c")
	f.Add("JWT ..")
	v, _, _ := newTestVerifier(f)

	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/"}}
		r.Header.Set("Authorization", header)
		inst, claims, err := v.verify(r)
		if err != nil {
			return
		}
		tok, _, _ := tokenFromHeader(header, DefaultMaxTokenSize)
		if inst == nil || claims == nil || !signedHS256(tok, inst.OAuthSecret) {
			t.Fatalf("verified a token not signed with HS256: %q", header)
		}
		if claims.ExpiresAt == nil || claims.Issuer != inst.OAuthID {
			t.Fatalf("verified claims %+v of %v", claims, inst)
		}
	})
}

// signedHS256 checks, independently of the verifier, that tok names HS256
// and carries a valid HMAC-SHA256 signature under secret.
func signedHS256(tok, secret string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	head, err := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	if err != nil || json.Unmarshal(head, &h) != nil || h["alg"] != "HS256" {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	return err == nil && hmac.Equal(sig, mac.Sum(nil))
}

func TestLogLineCannotBeForged(t *testing.T) {
	v, _, logger := newTestVerifier(t)
	srv := newTestServer(t, v)
	tok := hs256(t, func(c jwt.MapClaims) {
		c["iss"] = "x\nerror: forged " + strings.Repeat("y", 500)
	})

	resp, _ := doRequest(t, srv, tokenCase{header: "JWT " + tok})
	lines := logger.take()
	if resp.StatusCode != http.StatusUnauthorized || len(lines) != 1 {
		t.Fatalf("status %d, log %q", resp.StatusCode, lines)
	}
	if strings.Contains(lines[0], "\n") || strings.Contains(lines[0], strings.Repeat("y", 65)) {
		t.Errorf("log line carries the raw or full issuer: %q", lines[0])
	}
}
