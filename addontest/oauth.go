package addontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// oauthClient is the OAuth client HipChat creates for one installation.
type oauthClient struct {
	id, secret    string
	groupID       int
	roomID        int
	descriptorURL string
	desc          *descriptor
	// webhookIDs are the ids HipChat gave the descriptor's webhooks, in
	// order.
	webhookIDs []int
}

// accessToken is a token the token endpoint issued.
type accessToken struct {
	clientID string
	scopes   []string
	expires  time.Time

	// The rate-limit window of the token.
	windowStart time.Time
	count       int
}

// tokenRequest holds the fields of a token request, from a form or JSON.
type tokenRequest struct {
	GrantType string `json:"grant_type"`
	Scope     string `json:"scope"`
}

// randomString returns n random bytes, hex encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random version 4 UUID, the form of HipChat's oauthIds
// and message ids.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// serveToken is HipChat's OAuth token endpoint, for the client credentials
// grant only.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	c := s.lookupClient(id)
	if !ok || c == nil || c.secret != secret {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "invalid client credentials")
		return
	}

	req, err := readTokenRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "unreadable token request")
		return
	}
	if req.GrantType != "client_credentials" {
		writeError(w, http.StatusBadRequest, "unsupported_grant_type",
			"only the client_credentials grant is supported")
		return
	}
	scopes, ok := grantScopes(req.Scope, c.desc.scopes())
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_scope",
			"requested scopes exceed the add-on's scopes")
		return
	}

	s.issueToken(w, c, scopes)
}

// issueToken stores a new token for c and writes the token response.
func (s *Server) issueToken(w http.ResponseWriter, c *oauthClient, scopes []string) {
	tok := randomString(20)
	now := s.now()
	s.mu.Lock()
	s.tokens[tok] = &accessToken{
		clientID:    c.id,
		scopes:      scopes,
		expires:     now.Add(s.tokenLifetime),
		windowStart: now,
	}
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(s.tokenLifetime / time.Second),
		"scope":        strings.Join(scopes, " "),
		"group_id":     c.groupID,
		"group_name":   s.groupName,
	})
}

// readTokenRequest reads a form-encoded or JSON token request.
func readTokenRequest(r *http.Request) (tokenRequest, error) {
	var req tokenRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16)).Decode(&req)
		return req, err
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		return req, err
	}
	req.GrantType = r.PostForm.Get("grant_type")
	req.Scope = r.PostForm.Get("scope")
	return req, nil
}

// grantScopes checks the requested scopes against the add-on's; an empty
// request is granted all of them.
func grantScopes(requested string, allowed []string) ([]string, bool) {
	want := strings.Fields(requested)
	if len(want) == 0 {
		return allowed, true
	}
	for _, sc := range want {
		if !slices.Contains(allowed, sc) {
			return nil, false
		}
	}
	return want, true
}

// lookupClient returns the live OAuth client id, or nil.
func (s *Server) lookupClient(id string) *oauthClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id]
}

// TokenRequests returns how many requests naming oauthID in their Basic
// credentials reached the token endpoint, including refused ones and those
// answered by an injected [Fault].
func (s *Server) TokenRequests(oauthID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.tokenRequests[oauthID]
}

// bearer extracts the access token of an API request.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	return r.URL.Query().Get("auth_token")
}

// authorize checks the request's access token and rate limit, and that it
// carries one of scopes (any token will do when scopes is empty). It writes
// the error response and returns nil when the request may not proceed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, scopes ...string) *oauthClient {
	tok := bearer(r)
	now := s.now()

	s.mu.Lock()
	at := s.tokens[tok]
	var c *oauthClient
	if at != nil {
		c = s.clients[at.clientID]
	}
	if at == nil || c == nil || !now.Before(at.expires) {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "Unauthorized",
			"missing, expired or revoked access token")
		return nil
	}
	setRequestClient(r, c.id)
	limited := s.countRequest(w, at, now)
	s.mu.Unlock()

	if limited {
		writeError(w, http.StatusTooManyRequests, "Too Many Requests", "rate limit exceeded")
		return nil
	}
	if len(scopes) > 0 && !slices.ContainsFunc(scopes, func(sc string) bool {
		return slices.Contains(at.scopes, sc)
	}) {
		writeError(w, http.StatusForbidden, "Forbidden",
			"the access token lacks scope "+strings.Join(scopes, " or "))
		return nil
	}
	return c
}

// countRequest counts a request against the token's rate limit, sets the
// rate-limit headers and reports whether the limit is exceeded. The caller
// holds s.mu.
func (s *Server) countRequest(w http.ResponseWriter, at *accessToken, now time.Time) bool {
	if !now.Before(at.windowStart.Add(RateLimitWindow)) {
		at.windowStart, at.count = now, 0
	}
	at.count++
	reset := at.windowStart.Add(RateLimitWindow)
	setRateHeaders(w.Header(), s.rateLimit, max(s.rateLimit-at.count, 0), reset)
	return at.count > s.rateLimit
}

// setRateHeaders writes HipChat's rate-limit headers.
func setRateHeaders(h http.Header, limit, remaining int, reset time.Time) {
	h.Set("X-Ratelimit-Limit", strconv.Itoa(limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes an error in HipChat's format:
// {"error": {"code", "type", "message"}}.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{
		"error": map[string]any{"code": status, "type": typ, "message": msg},
	})
}

// requestInfo carries what the handlers learn about a request to the
// recorder.
type requestInfo struct{ oauthID string }

type requestInfoKey struct{}

// setRequestClient notes the OAuth client a request came from.
func setRequestClient(r *http.Request, id string) {
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		ri.oauthID = id
	}
}

// withRequestInfo attaches a fresh requestInfo to ctx.
func withRequestInfo(ctx context.Context) (context.Context, *requestInfo) {
	ri := &requestInfo{}
	return context.WithValue(ctx, requestInfoKey{}, ri), ri
}
