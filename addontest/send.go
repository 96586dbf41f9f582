package addontest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrNoWebhook means the installation has no webhook that HipChat would
// call for the event: none declared for it, its pattern does not match, or
// the event happened outside the installation's room.
var ErrNoWebhook = errors.New("addontest: no webhook for this event")

// ErrNoModule means the descriptor declares no page or glance with the key
// asked for, or declares it without a URL.
var ErrNoModule = errors.New("addontest: no such module in the descriptor")

// SignStyle says where a signed request carries its JWT. HipChat versions
// and the published guides differ; an add-on should accept all of them.
type SignStyle int

const (
	// SignHeader sends "Authorization: JWT <token>", the API reference's
	// form and the default for webhooks.
	SignHeader SignStyle = iota
	// SignHeaderTokenEquals sends "Authorization: JWT token=<token>", an
	// older form.
	SignHeaderTokenEquals
	// SignQuery sends the token as the signed_request query parameter, the
	// default for glance queries and pages.
	SignQuery
)

// CallOption adjusts one signed call to the add-on.
type CallOption func(*callConfig)

type callConfig struct {
	style     *SignStyle
	legacyPrn bool
	ttl       time.Duration
	token     *string
}

// SignedWith overrides where the call carries its JWT.
func SignedWith(style SignStyle) CallOption {
	return func(c *callConfig) { c.style = &style }
}

// LegacySubject puts the user id in the "prn" claim instead of "sub".
func LegacySubject() CallOption {
	return func(c *callConfig) { c.legacyPrn = true }
}

// JWTLifetime sets exp to iat plus d; a negative d signs a token that has
// already expired.
func JWTLifetime(d time.Duration) CallOption {
	return func(c *callConfig) { c.ttl = d }
}

// UseJWT sends token instead of a JWT the fake signs, to test an add-on's
// defences against forged requests; an empty token sends the request
// unsigned.
func UseJWT(token string) CallOption {
	return func(c *callConfig) { c.token = &token }
}

// signing holds the server-wide signing defaults.
type signing struct {
	style     SignStyle
	legacyPrn bool
}

// Token returns a JWT as HipChat signs its requests to the add-on: HS256
// keyed by the installation's oauthSecret, with iss (the oauthId), sub (the
// user id), iat, exp, jti and context {room_id, user_tz}. A zero roomID
// means the installation's room, if any; a zero ttl means
// [DefaultJWTLifetime], and a negative one an expired token. An installation
// that was uninstalled or forgotten can still sign, for tests of add-ons
// that keep stale installations.
func (s *Server) Token(oauthID, userID string, roomID int, ttl time.Duration) (string, error) {
	return s.token(oauthID, userID, roomID, callConfig{ttl: ttl, legacyPrn: s.signDefaults.legacyPrn})
}

// token signs a JWT per cfg.
func (s *Server) token(oauthID, userID string, roomID int, cfg callConfig) (string, error) {
	s.mu.Lock()
	c := s.clients[oauthID]
	if c == nil {
		c = s.forgotten[oauthID]
	}
	s.mu.Unlock()
	if c == nil {
		return "", fmt.Errorf("%w: %s", ErrUnknownInstallation, oauthID)
	}
	if roomID == 0 {
		roomID = c.roomID
	}
	ttl := cfg.ttl
	if ttl == 0 {
		ttl = DefaultJWTLifetime
	}

	now := s.now()
	ctxClaim := map[string]any{"user_tz": "UTC"}
	if roomID != 0 {
		ctxClaim["room_id"] = roomID
	}
	claims := jwt.MapClaims{
		"iss": c.id, "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"jti": randomString(12), "context": ctxClaim,
	}
	if userID != "" && cfg.legacyPrn {
		claims["prn"] = userID
	} else if userID != "" {
		claims["sub"] = userID
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(c.secret))
	if err != nil {
		return "", fmt.Errorf("addontest: signing: %w", err)
	}
	return tok, nil
}

// config applies opts over the server's defaults.
func (s *Server) config(defaultStyle SignStyle, opts []CallOption) callConfig {
	cfg := callConfig{legacyPrn: s.signDefaults.legacyPrn}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.style == nil {
		cfg.style = &defaultStyle
	}
	return cfg
}

// sign adds a JWT to req as cfg says. An unsigned cfg (UseJWT("")) adds
// nothing.
func (s *Server) sign(req *http.Request, oauthID, userID string, roomID int, cfg callConfig) error {
	var tok string
	if cfg.token != nil {
		tok = *cfg.token
	} else {
		var err error
		if tok, err = s.token(oauthID, userID, roomID, cfg); err != nil {
			return err
		}
	}
	if tok == "" {
		return nil
	}

	switch *cfg.style {
	case SignHeaderTokenEquals:
		req.Header.Set("Authorization", "JWT token="+tok)
	case SignQuery:
		q := req.URL.Query()
		q.Set("signed_request", tok)
		req.URL.RawQuery = q.Encode()
	default:
		req.Header.Set("Authorization", "JWT "+tok)
	}
	return nil
}

// webhookItem is the part of a webhook item the fake reads.
type webhookItem struct {
	Message *struct {
		Message string          `json:"message"`
		From    json.RawMessage `json:"from"`
	} `json:"message"`
	Room *struct {
		ID int `json:"id"`
	} `json:"room"`
	Sender *struct {
		ID json.RawMessage `json:"id"`
	} `json:"sender"`
}

// text returns the message text of a message event.
func (it webhookItem) text() string {
	if it.Message == nil {
		return ""
	}
	return it.Message.Message
}

// roomID returns the room of the event, or zero.
func (it webhookItem) roomID() int {
	if it.Room == nil {
		return 0
	}
	return it.Room.ID
}

// userID returns the id of the user who caused the event, if known.
func (it webhookItem) userID() string {
	if it.Sender != nil {
		return idString(it.Sender.ID)
	}
	if it.Message == nil {
		return ""
	}
	var from struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(it.Message.From, &from) != nil {
		return ""
	}
	return idString(from.ID)
}

// idString renders a user id given as a JSON number or string.
func idString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// SendWebhook delivers event to the add-on as HipChat would: it finds the
// first webhook of the installation's descriptor for event whose pattern,
// if any, matches item.message.message, and POSTs {event, item,
// oauth_client_id, webhook_id} to its url, signed unless the webhook's
// authentication is "none" (HipChat's default when it is not declared).
// HipChat would call every matching webhook; SendWebhook calls only the
// first. item is marshalled to JSON; its room.id and its sender or
// message.from id give the JWT's room and user.
//
// When the add-on answers 200 with a JSON body holding a message, the fake
// records it as a [Notification] to the event's room, as HipChat posts it.
// The returned response's body can be read and must be closed.
func (s *Server) SendWebhook(ctx context.Context, oauthID, event string, item any,
	opts ...CallOption) (*http.Response, error) {
	c := s.lookupClient(oauthID)
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownInstallation, oauthID)
	}
	raw, err := json.Marshal(item)
	if err != nil {
		return nil, fmt.Errorf("addontest: webhook item: %w", err)
	}
	var it webhookItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return nil, fmt.Errorf("addontest: webhook item: %w", err)
	}
	wh, id, err := findWebhook(c, event, it)
	if err != nil {
		return nil, err
	}

	req, err := s.webhookRequest(ctx, c, wh, id, event, raw)
	if err != nil {
		return nil, err
	}
	if wh.Authentication == "jwt" {
		cfg := s.config(s.signDefaults.style, opts)
		if err := s.sign(req, c.id, it.userID(), it.roomID(), cfg); err != nil {
			return nil, err
		}
	}
	return s.deliverWebhook(req, c, it.roomID())
}

// findWebhook returns the webhook of c that HipChat would call, and its id.
func findWebhook(c *oauthClient, event string, it webhookItem) (webhookCap, int, error) {
	if c.roomID != 0 && it.roomID() != 0 && it.roomID() != c.roomID {
		return webhookCap{}, 0, fmt.Errorf("%w: installed in room %d", ErrNoWebhook, c.roomID)
	}
	message := event == "room_message" || event == "room_notification"
	for i, wh := range c.desc.Capabilities.Webhooks {
		if wh.Event != event {
			continue
		}
		if message && wh.re != nil && !wh.re.MatchString(it.text()) {
			continue
		}
		return wh, c.webhookIDs[i], nil
	}
	return webhookCap{}, 0, fmt.Errorf("%w: %s", ErrNoWebhook, event)
}

// webhookRequest builds the POST of a webhook.
func (s *Server) webhookRequest(ctx context.Context, c *oauthClient, wh webhookCap, id int,
	event string, item json.RawMessage) (*http.Request, error) {
	body, _ := json.Marshal(map[string]any{
		"event": event, "item": item, "oauth_client_id": c.id, "webhook_id": id,
	})
	target, err := c.desc.resolve(wh.URL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("addontest: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// deliverWebhook sends a webhook and records a notification the add-on
// answers with.
func (s *Server) deliverWebhook(req *http.Request, c *oauthClient,
	roomID int) (*http.Response, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("addontest: webhook: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("addontest: webhook response: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))

	var n notificationRequest
	if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &n) == nil &&
		checkNotification(n) == nil {
		rec := Notification{
			RoomIDOrName: strconv.Itoa(roomID), RoomID: roomID, OAuthID: c.id,
			Body: body, Message: *n.Message, Color: n.Color,
			MessageFormat: n.MessageFormat, From: n.From, Notify: n.Notify,
			AttachTo: n.AttachTo, Card: n.Card, FromWebhook: true,
		}
		s.addRecord(func(r *records) { r.notifications = append(r.notifications, rec) })
	}
	return resp, nil
}

// SendRoomMessage sends a room_message webhook with a realistic item: a
// message with a new id, the clock's date, from, the mentions of users
// declared with [Server.SetUser], and type "message", in the room (named
// as declared with [Server.SetRoom], or "Room <id>").
func (s *Server) SendRoomMessage(ctx context.Context, oauthID string, roomID int, from User,
	text string, opts ...CallOption) (*http.Response, error) {
	item := map[string]any{
		"message": map[string]any{
			"date":     hipchatTime(s.now()),
			"from":     s.userJSON(from),
			"id":       newUUID(),
			"mentions": s.mentions(text),
			"message":  text,
			"type":     "message",
		},
		"room": s.roomJSON(roomID),
	}
	return s.SendWebhook(ctx, oauthID, "room_message", item, opts...)
}

// userJSON is a user as webhooks show it.
func (s *Server) userJSON(u User) map[string]any {
	return map[string]any{
		"id": u.ID, "mention_name": u.MentionName, "name": u.Name,
		"links": map[string]string{"self": s.APIURL() + "user/" + strconv.Itoa(u.ID)},
	}
}

// roomJSON is a room as webhooks show it.
func (s *Server) roomJSON(id int) map[string]any {
	s.mu.Lock()
	room, ok := s.rooms[id]
	s.mu.Unlock()
	if !ok {
		room = Room{ID: id, Name: "Room " + strconv.Itoa(id)}
	}
	self := s.APIURL() + "room/" + strconv.Itoa(id)
	return map[string]any{
		"id": room.ID, "name": room.Name, "links": map[string]string{
			"self": self, "webhooks": self + "/webhook",
			"members": self + "/member", "participants": self + "/participant",
		},
	}
}

// mentions lists the declared users that text @mentions, by id.
func (s *Server) mentions(text string) []map[string]any {
	s.mu.Lock()
	var users []User
	for _, u := range s.users {
		if u.MentionName != "" && strings.Contains(text, "@"+u.MentionName) {
			users = append(users, u)
		}
	}
	s.mu.Unlock()

	slices.SortFunc(users, func(a, b User) int { return a.ID - b.ID })
	out := make([]map[string]any, 0, len(users))
	for _, u := range users {
		out = append(out, s.userJSON(u))
	}
	return out
}

// QueryGlance calls the queryUrl of a glance as HipChat's web client does:
// a GET with ?signed_request=<jwt> and an Origin header naming the fake.
// The caller must close the response body, and can check that it carries
// the CORS headers a browser would need (Access-Control-Allow-Origin).
func (s *Server) QueryGlance(ctx context.Context, oauthID, glanceKey, userID string, roomID int,
	opts ...CallOption) (*http.Response, error) {
	c := s.lookupClient(oauthID)
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownInstallation, oauthID)
	}
	g, ok := c.desc.glance(glanceKey)
	if !ok || g.QueryURL == "" {
		return nil, fmt.Errorf("%w: glance %q", ErrNoModule, glanceKey)
	}
	return s.signedGet(ctx, c, g.QueryURL, userID, roomID, opts)
}

// LoadPage loads a page of the add-on as HipChat's iframe does: a GET of
// its url with ?signed_request=<jwt>. moduleKey is "configurable",
// "adminPage", or the key of a dialog, web panel or external page. The
// caller must close the response body.
func (s *Server) LoadPage(ctx context.Context, oauthID, moduleKey, userID string, roomID int,
	opts ...CallOption) (*http.Response, error) {
	c := s.lookupClient(oauthID)
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownInstallation, oauthID)
	}
	page, ok := c.desc.pageURL(moduleKey)
	if !ok {
		return nil, fmt.Errorf("%w: page %q", ErrNoModule, moduleKey)
	}
	return s.signedGet(ctx, c, page, userID, roomID, opts)
}

// SignedGet GETs target, an absolute URL or one relative to the
// installation's descriptor, signed like a page load.
func (s *Server) SignedGet(ctx context.Context, oauthID, target, userID string, roomID int,
	opts ...CallOption) (*http.Response, error) {
	c := s.lookupClient(oauthID)
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownInstallation, oauthID)
	}
	return s.signedGet(ctx, c, target, userID, roomID, opts)
}

// signedGet sends a signed GET from the "browser".
func (s *Server) signedGet(ctx context.Context, c *oauthClient, target, userID string,
	roomID int, opts []CallOption) (*http.Response, error) {
	u, err := c.desc.resolve(target)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("addontest: %w", err)
	}
	req.Header.Set("Origin", s.URL)
	if err := s.sign(req, c.id, userID, roomID, s.config(SignQuery, opts)); err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("addontest: GET %s: %w", redact(u), err)
	}
	return resp, nil
}

// redact drops the query of a URL, which may carry a token.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<bad url>"
	}
	u.RawQuery = ""
	return u.String()
}

// hipchatTime formats t as HipChat's API did, ISO 8601 with microseconds.
func hipchatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000-07:00")
}
