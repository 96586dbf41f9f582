package addon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// HttpDoer sends HTTP requests. *http.Client is one; a test can pass
// anything else with the same Do method.
type HttpDoer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Errors callers branch on.
var (
	// ErrUntrustedServer is returned when a URL given by a request is not
	// under one of the add-on's trusted HipChat servers.
	ErrUntrustedServer = errors.New("addon: not a trusted HipChat server")
	// ErrInstallationRevoked is returned when HipChat's token endpoint no
	// longer knows an installation: it was uninstalled.
	ErrInstallationRevoked = errors.New("addon: installation revoked by HipChat")
	// ErrRoomRequired is returned when a call needs a room and the
	// installation is global, so the caller must name one.
	ErrRoomRequired = errors.New("addon: a global installation needs a room")
	// ErrWrongRoom is returned when a room installation is asked to act in
	// another room.
	ErrWrongRoom = errors.New("addon: a room installation can act only in its own room")
)

// maxDocumentSize bounds what is read of a document HipChat serves.
const maxDocumentSize = 1 << 20

// APIError is a response from HipChat outside the 2xx range.
type APIError struct {
	Method     string
	URL        string // without its query
	StatusCode int
	// Message is HipChat's error message, when it gave one.
	Message string
}

// Error says which call HipChat refused and how.
func (e *APIError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("addon: %s %s: %d %s", e.Method, e.URL, e.StatusCode, e.Message)
	}
	return fmt.Sprintf("addon: %s %s: %d %s", e.Method, e.URL, e.StatusCode,
		http.StatusText(e.StatusCode))
}

// RateLimitError is a 429 answer from HipChat. Reset is when HipChat said
// the limit resets (the zero time if it did not say).
type RateLimitError struct {
	APIError
	Limit     int
	Remaining int
	Reset     time.Time
	// FloodControl is true when the limit hit is the per-room or per-user
	// flood control rather than the per-token rate limit.
	FloodControl bool
}

// Error is the APIError's message with the reset time.
func (e *RateLimitError) Error() string {
	if e.Reset.IsZero() {
		return e.APIError.Error() + " (rate limited)"
	}
	return fmt.Sprintf("%s (rate limited until %s)", e.APIError.Error(),
		e.Reset.UTC().Format(time.RFC3339))
}

// Unwrap lets errors.As find the embedded *APIError.
func (e *RateLimitError) Unwrap() error { return &e.APIError }

// responseError turns a non-2xx response into an *APIError or a
// *RateLimitError. It reads (a bounded part of) the body.
func responseError(req *http.Request, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	base := APIError{
		Method:     req.Method,
		URL:        redactedURL(req.URL),
		StatusCode: resp.StatusCode,
		Message:    hipchatErrorMessage(body),
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		return &base
	}
	rl := &RateLimitError{APIError: base}
	prefix := "X-Ratelimit-"
	if resp.Header.Get("X-Floodcontrol-Reset") != "" {
		prefix, rl.FloodControl = "X-Floodcontrol-", true
	}
	rl.Limit, _ = strconv.Atoi(resp.Header.Get(prefix + "Limit"))
	rl.Remaining, _ = strconv.Atoi(resp.Header.Get(prefix + "Remaining"))
	if s, err := strconv.ParseInt(resp.Header.Get(prefix+"Reset"), 10, 64); err == nil {
		rl.Reset = time.Unix(s, 0)
	}
	return rl
}

// hipchatErrorMessage reads {"error": {"message": ...}} or a plain
// {"error": "..."}; anything else gives "".
func hipchatErrorMessage(body []byte) string {
	var doc struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Error) == 0 {
		return ""
	}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(doc.Error, &obj) == nil && obj.Message != "" {
		return truncate(obj.Message, 200)
	}
	var s string
	if json.Unmarshal(doc.Error, &s) == nil {
		return truncate(s, 200)
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// redactedURL prints u without its query, which may hold a token.
func redactedURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return c.String()
}

// trustedServer is a parsed base URL from TrustedServers.
type trustedServer struct {
	scheme, host, path string // path ends with "/"
}

func parseTrustedServers(bases []string) ([]trustedServer, []string) {
	var out []trustedServer
	var problems []string
	if len(bases) == 0 {
		problems = append(problems, "options: no trusted HipChat server")
	}
	for _, b := range bases {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems,
				fmt.Sprintf("options: trusted server %q is not an http(s) base URL", b))
			continue
		}
		p := u.Path
		if !strings.HasSuffix(p, "/") {
			p += "/"
		}
		out = append(out, trustedServer{scheme: u.Scheme, host: strings.ToLower(u.Host), path: p})
	}
	return out, problems
}

// checkTrusted parses raw and returns it if it is under a trusted server.
func (a *HipChatAddon) checkTrusted(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed URL", ErrUntrustedServer)
	}
	return u, a.checkTrustedURL(u)
}

// checkTrustedURL is checkTrusted for a parsed URL.
func (a *HipChatAddon) checkTrustedURL(u *url.URL) error {
	if !u.IsAbs() || u.User != nil || u.Host == "" {
		return fmt.Errorf("%w: malformed URL", ErrUntrustedServer)
	}
	// A path with dot segments could climb out of a trusted base path.
	p := u.Path
	if clean := path.Clean("/" + p); clean != p && clean+"/" != p && p != "" {
		return fmt.Errorf("%w: path is not clean", ErrUntrustedServer)
	}
	host := strings.ToLower(u.Host)
	for _, t := range a.trusted {
		if u.Scheme == t.scheme && host == t.host && (p+"/" == t.path || strings.HasPrefix(p, t.path)) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s://%s", ErrUntrustedServer, u.Scheme, u.Host)
}

// fetchJSON GETs a document from a trusted HipChat server and decodes it
// into v, reading at most maxDocumentSize bytes.
func (a *HipChatAddon) fetchJSON(ctx context.Context, raw string, v any) error {
	u, err := a.checkTrusted(raw)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("addon: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.cfg.client.Do(req)
	if err != nil {
		return fmt.Errorf("addon: GET %s: %w", redactedURL(u), err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return responseError(req, resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return fmt.Errorf("addon: GET %s: %w", redactedURL(u), err)
	}
	if len(body) > maxDocumentSize {
		return fmt.Errorf("addon: GET %s: document larger than %d bytes", redactedURL(u), maxDocumentSize)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("addon: GET %s: %w", redactedURL(u), err)
	}
	return nil
}

// drainClose reads a little of what is left of a body, so the connection
// can be reused, and closes it.
func drainClose(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}

// doerTransport lets an HttpDoer stand where an http.RoundTripper is needed.
type doerTransport struct{ doer HttpDoer }

func (t doerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.doer.Do(req)
}

// httpClient returns the configured HttpDoer as an *http.Client.
func (a *HipChatAddon) httpClient() *http.Client {
	if c, ok := a.cfg.client.(*http.Client); ok {
		return c
	}
	return &http.Client{Transport: doerTransport{a.cfg.client}}
}
