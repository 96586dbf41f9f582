package addon

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultClockSkew is how far HipChat's clock and the add-on's may disagree
// before a signed request's exp or iat is refused.
const DefaultClockSkew = 30 * time.Second

// DefaultMaxTokenSize is the longest JWT, in bytes, that a signed request
// may carry. Longer ones are refused before anything is decoded.
const DefaultMaxTokenSize = 8 << 10

const (
	// signedRequestParam is the query parameter HipChat puts a JWT in when
	// it loads a page, a glance or a dialog.
	signedRequestParam = "signed_request"

	// queryAllowance is how much longer than the token limit a query string
	// may be, to leave room for parameters beside signed_request.
	queryAllowance = 2 << 10

	// headerAllowance leaves room for "JWT token=" and spaces around the
	// token in an Authorization header.
	headerAllowance = 32

	// pageTokenAlg is the only algorithm HipChat signs with.
	pageTokenAlg = "HS256"
)

// Errors returned when a signed request is refused. Test for them with
// errors.Is: the errors returned wrap them with more detail.
var (
	// ErrMissingToken means the request carried no JWT at all.
	ErrMissingToken = errors.New("addon: missing JWT")
	// ErrTokenTooLarge means the JWT, or the header or query string holding
	// it, was longer than the limit; nothing was decoded.
	ErrTokenTooLarge = errors.New("addon: JWT too large")
	// ErrInvalidToken means the JWT was malformed, was not signed with
	// HS256 by the installation it names, had expired, was issued in the
	// future, or named no issuer.
	ErrInvalidToken = errors.New("addon: invalid JWT")
	// ErrUnknownInstallation means the JWT's issuer is not an installation
	// the store holds.
	ErrUnknownInstallation = errors.New("addon: JWT from unknown installation")
)

// Errors made once, so that refusing a request early allocates nothing.
var (
	errHeaderTooLarge = fmt.Errorf("%w: authorization header over the limit", ErrTokenTooLarge)
	errQueryTooLarge  = fmt.Errorf("%w: query string over the limit", ErrTokenTooLarge)
	errDuplicateParam = fmt.Errorf("%w: more than one %s parameter", ErrInvalidToken,
		signedRequestParam)
	errEmptyIssuer = fmt.Errorf("%w: no issuer", ErrInvalidToken)
)

// Claims are the claims of a JWT HipChat signs.
type Claims struct {
	// RegisteredClaims holds iss (the installation's oauthId), sub (the
	// user id), iat, exp and jti.
	jwt.RegisteredClaims
	// Prn names the user in tokens from older HipChat versions.
	Prn string `json:"prn,omitempty"`
	// Context says where in HipChat the request comes from.
	Context ClaimsContext `json:"context"`
}

// ClaimsContext is the context claim of a JWT HipChat signs.
type ClaimsContext struct {
	// RoomID is the room the request concerns, or zero. HipChat has sent
	// it both as a JSON number and as a string of digits; both decode.
	RoomID int `json:"room_id,omitempty"`
	// UserTZ is the user's time zone, such as "Europe/Paris".
	UserTZ string `json:"user_tz,omitempty"`
}

// UnmarshalJSON decodes a context claim, accepting room_id as a number or
// as a string of digits. A negative or fractional room_id is an error.
func (c *ClaimsContext) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	var raw struct {
		RoomID json.RawMessage `json:"room_id"`
		UserTZ string          `json:"user_tz"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	id, err := parseRoomID(raw.RoomID)
	if err != nil {
		return err
	}
	c.RoomID, c.UserTZ = id, raw.UserTZ
	return nil
}

// parseRoomID reads a room_id claim: absent, null, "", a non-negative
// integer, or such an integer in a string.
func parseRoomID(raw json.RawMessage) (int, error) {
	s := string(raw)
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	}
	if s == "" || s == "null" {
		return 0, nil
	}
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 || s[0] == '+' {
		return 0, errors.New("addon: room_id claim is not a room id")
	}
	return id, nil
}

// UserID returns the id of the user the token speaks for: sub, or prn in
// tokens from older HipChat versions. It is empty when neither is set.
func (c *Claims) UserID() string {
	if c.Subject != "" {
		return c.Subject
	}
	return c.Prn
}

// clone returns a copy of c that shares nothing with it.
func (c *Claims) clone() *Claims {
	if c == nil {
		return nil
	}
	cp := *c
	if c.Audience != nil {
		cp.Audience = append(jwt.ClaimStrings(nil), c.Audience...)
	}
	cp.ExpiresAt = cloneDate(c.ExpiresAt)
	cp.NotBefore = cloneDate(c.NotBefore)
	cp.IssuedAt = cloneDate(c.IssuedAt)
	return &cp
}

func cloneDate(d *jwt.NumericDate) *jwt.NumericDate {
	if d == nil {
		return nil
	}
	cp := *d
	return &cp
}

// verifier checks the JWTs HipChat signs requests with. Set its fields
// before the first call; they must not change afterwards. It is safe for
// concurrent use.
type verifier struct {
	store  InstallationStore
	logger AddonLogger
	// now is the clock; nil means time.Now.
	now func() time.Time
	// leeway is the allowed clock skew; zero means DefaultClockSkew and a
	// negative value means none.
	leeway time.Duration
	// maxTokenLen is the longest token accepted; zero or less means
	// DefaultMaxTokenSize.
	maxTokenLen int

	once   sync.Once // guards parser and limit, built on first use
	parser *jwt.Parser
	limit  int
}

// newVerifier returns a verifier with the default skew, size limit and
// clock.
func newVerifier(store InstallationStore, logger AddonLogger) *verifier {
	return &verifier{
		store:       store,
		logger:      logger,
		now:         time.Now,
		leeway:      DefaultClockSkew,
		maxTokenLen: DefaultMaxTokenSize,
	}
}

// setup builds the parser from the fields, once.
func (v *verifier) setup() {
	v.once.Do(func() {
		now := v.now
		if now == nil {
			now = time.Now
		}
		leeway := v.leeway
		if leeway == 0 {
			leeway = DefaultClockSkew
		} else if leeway < 0 {
			leeway = 0
		}
		v.limit = v.maxTokenLen
		if v.limit <= 0 {
			v.limit = DefaultMaxTokenSize
		}
		if v.logger == nil {
			v.logger = discardLogger()
		}
		v.parser = jwt.NewParser(
			jwt.WithValidMethods([]string{pageTokenAlg}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
		)
	})
}

// extractToken finds the JWT in a request: in an Authorization header of
// the form "JWT <token>" or "JWT token=<token>" (the scheme in any case),
// else in the signed_request query parameter. It refuses a token longer
// than maxLen before decoding anything, and allocates nothing to do so.
func extractToken(r *http.Request, maxLen int) (string, error) {
	if tok, ok, err := tokenFromHeader(r.Header.Get("Authorization"), maxLen); ok {
		return tok, err
	}
	return tokenFromQuery(r.URL, maxLen)
}

// tokenFromHeader reads an Authorization header value. ok is false when
// the header does not use the JWT scheme, so that the query is tried.
func tokenFromHeader(h string, maxLen int) (tok string, ok bool, err error) {
	if len(h) < 4 || !strings.EqualFold(h[:3], "JWT") || (h[3] != ' ' && h[3] != '\t') {
		return "", false, nil
	}
	if len(h) > maxLen+headerAllowance {
		return "", true, errHeaderTooLarge
	}

	tok = strings.TrimSpace(h[4:])
	if len(tok) >= 6 && strings.EqualFold(tok[:6], "token=") {
		tok = tok[6:]
		if len(tok) >= 2 && tok[0] == '"' && tok[len(tok)-1] == '"' {
			tok = tok[1 : len(tok)-1]
		}
	}
	return checkToken(tok, maxLen, errHeaderTooLarge)
}

// tokenFromQuery reads the signed_request query parameter. It refuses an
// over-long query string before looking at it, and reads the parameter in
// place rather than decoding the whole query, so that a too-long token
// costs nothing to refuse and a good one costs no allocation.
func tokenFromQuery(u *url.URL, maxLen int) (string, error) {
	if u == nil || u.RawQuery == "" {
		return "", ErrMissingToken
	}
	if len(u.RawQuery) > maxLen+queryAllowance {
		return "", errQueryTooLarge
	}

	raw, found := "", false
	for rest := u.RawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		key, val, _ := strings.Cut(pair, "=")
		if !isSignedRequestKey(key) || strings.Contains(pair, ";") {
			continue // url.ParseQuery skips pairs holding a semicolon too
		}
		if found {
			return "", errDuplicateParam
		}
		raw, found = val, true
	}
	if !found {
		return "", ErrMissingToken
	}
	return unescapeToken(raw, maxLen)
}

// isSignedRequestKey reports whether a raw query key, once unescaped, is
// signed_request.
func isSignedRequestKey(key string) bool {
	if key == signedRequestParam {
		return true
	}
	if len(key) > 3*len(signedRequestParam) || !hasEscapes(key) {
		return false
	}
	k, err := url.QueryUnescape(key)
	return err == nil && k == signedRequestParam
}

// unescapeToken decodes the raw value of signed_request. A JWT needs no
// escaping, so a value with none is returned as it is, without copying.
func unescapeToken(raw string, maxLen int) (string, error) {
	if len(raw) > maxLen && (len(raw) > 3*maxLen || !hasEscapes(raw)) {
		return "", errQueryTooLarge
	}
	tok, err := url.QueryUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s parameter badly escaped", ErrInvalidToken,
			signedRequestParam)
	}
	tok, _, err = checkToken(tok, maxLen, errQueryTooLarge)
	return tok, err
}

// hasEscapes reports whether s holds a query escape, % or +.
func hasEscapes(s string) bool {
	return strings.IndexByte(s, '%') >= 0 || strings.IndexByte(s, '+') >= 0
}

func checkToken(tok string, maxLen int, tooLarge error) (string, bool, error) {
	switch {
	case tok == "":
		return "", true, ErrMissingToken
	case len(tok) > maxLen:
		return "", true, tooLarge
	}
	return tok, true, nil
}

// verify finds and checks the JWT of a request, and returns the
// installation that signed it and its claims. Errors wrap ErrMissingToken,
// ErrTokenTooLarge, ErrInvalidToken or ErrUnknownInstallation; any other
// error is the store's, and says nothing about the request.
func (v *verifier) verify(r *http.Request) (*Installation, *Claims, error) {
	inst, claims, _, err := v.verifyRequest(r)
	return inst, claims, err
}

// verifyRequest is verify, also returning the issuer the token claimed,
// verified or not, for logging.
func (v *verifier) verifyRequest(r *http.Request) (*Installation, *Claims, string, error) {
	v.setup()
	raw, err := extractToken(r, v.limit)
	if err != nil {
		return nil, nil, "", err
	}

	// The key function runs after the claims are decoded but before the
	// signature is checked: iss is read there without being trusted yet.
	claims := &Claims{}
	var inst *Installation
	var keyErr error
	_, err = v.parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		inst, keyErr = v.installation(r, claims.Issuer)
		if keyErr != nil {
			return nil, keyErr
		}
		return []byte(inst.OAuthSecret), nil
	})

	switch {
	case keyErr != nil:
		return nil, nil, claims.Issuer, keyErr
	case err != nil:
		return nil, nil, claims.Issuer, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return inst, claims, claims.Issuer, nil
}

// installation fetches the installation a token claims to come from.
// Messages quote the unverified issuer, shortened, so that it cannot forge
// log lines.
func (v *verifier) installation(r *http.Request, iss string) (*Installation, error) {
	if iss == "" {
		return nil, errEmptyIssuer
	}
	inst, err := v.store.Get(r.Context(), iss)
	switch {
	case errors.Is(err, ErrInstallationNotFound) || (err == nil && inst == nil):
		return nil, fmt.Errorf("%w: %q", ErrUnknownInstallation, clip(iss, 64))
	case err != nil:
		return nil, fmt.Errorf("addon: looking up installation %q: %w", clip(iss, 64), err)
	case inst.OAuthSecret == "":
		// An empty HMAC key would let anyone sign as this installation.
		return nil, fmt.Errorf("addon: installation %q has no secret", clip(iss, 64))
	}
	return inst, nil
}

// middleware lets through only requests with a valid JWT, handing next
// the installation and claims in the request's context (see
// [InstallationFromContext]). Others are answered 401 with
// "WWW-Authenticate: JWT" and a body that does not say why; the reason is
// logged. A store failure is answered 500.
func (v *verifier) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inst, claims, iss, err := v.verifyRequest(r)
		if err != nil {
			v.refuse(w, r, iss, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(newAuthContext(r.Context(), inst, claims)))
	})
}

// refuse logs why a request was refused and answers it. The log line has
// the route and the claimed issuer, never the token or the query string.
func (v *verifier) refuse(w http.ResponseWriter, r *http.Request, iss string, err error) {
	route := ""
	if r.URL != nil {
		route = r.URL.Path
	}
	const format = "addon: refused signed request to %q (iss %q): %v"
	route, iss = clip(route, 200), clip(iss, 64)

	switch {
	case !isRequestError(err):
		v.logger.Errorf(format, route, iss, err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	case errors.Is(err, ErrMissingToken) || errors.Is(err, jwt.ErrTokenExpired):
		v.logger.Infof(format, route, iss, err)
	default:
		v.logger.Warnf(format, route, iss, err)
	}
	writeUnauthorized(w)
}

// writeUnauthorized answers 401 as http.Error would, adding the challenge
// header, with one allocation for the three header values.
func writeUnauthorized(w http.ResponseWriter) {
	vals := [...]string{"JWT", "text/plain; charset=utf-8", "nosniff"}
	h := w.Header()
	delete(h, "Content-Length")
	h["Www-Authenticate"] = vals[0:1:1]
	h["Content-Type"] = vals[1:2:2]
	h["X-Content-Type-Options"] = vals[2:3:3]
	w.WriteHeader(http.StatusUnauthorized)
	w.Write(unauthorizedBody)
}

// unauthorizedBody is the body of every 401; writers must not modify it.
var unauthorizedBody = []byte("unauthorized\n")

// isRequestError reports whether err blames the request rather than the
// add-on.
func isRequestError(err error) bool {
	return errors.Is(err, ErrMissingToken) || errors.Is(err, ErrTokenTooLarge) ||
		errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrUnknownInstallation)
}

// clip shortens s to at most n bytes, for log lines.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// signToken makes a JWT for a page the add-on serves, which the page sends
// back as "Authorization: JWT <token>": the claims HipChat signs, issued
// now and expiring after ttl, signed with HS256 and the installation's
// secret.
func signToken(inst *Installation, userID string, roomID int, now time.Time,
	ttl time.Duration) (string, error) {
	if inst == nil || inst.OAuthID == "" || inst.OAuthSecret == "" {
		return "", errors.New("addon: signing a JWT needs an installation with an oauthId and a secret")
	}
	if ttl <= 0 {
		return "", errors.New("addon: a JWT's lifetime must be positive")
	}

	claims := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    inst.OAuthID,
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        rand.Text(),
		},
		Context: ClaimsContext{RoomID: roomID},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(
		[]byte(inst.OAuthSecret))
	if err != nil {
		return "", fmt.Errorf("addon: signing a JWT: %w", err)
	}
	return tok, nil
}
