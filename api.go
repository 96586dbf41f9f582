package addon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client returns an *http.Client that calls HipChat's API as inst: it adds
// an access token for the given scopes (all the descriptor's scopes when
// none are given) to every request, renews the token before it expires,
// and when HipChat answers 401 renews it once and sends the request once
// more. It suits other Go HipChat API clients that accept an *http.Client;
// point them at inst.APIURL.
//
// Requests must go to inst's HipChat server; others fail with
// [ErrUntrustedServer] so that a token never leaves it.
func (a *HipChatAddon) Client(inst *Installation, scopes ...string) *http.Client {
	t := a.newTransport(inst.Clone(), scopes)
	t.origin = originOf(inst.APIURL)
	return &http.Client{Transport: t}
}

// apiTransport authenticates requests to HipChat's API as one
// installation with one scope set.
type apiTransport struct {
	a      *HipChatAddon
	inst   *Installation
	scopes []string
	key    string // the token cache's key
	origin string // of the installation's API, where RoundTrip may go
}

// newTransport returns a transport for inst and scopes, or the
// descriptor's scopes when there are none.
func (a *HipChatAddon) newTransport(inst *Installation, scopes []string) *apiTransport {
	key := a.scopeKey
	if len(scopes) == 0 {
		scopes = a.scopes
	} else {
		key = scopeKey(scopes)
	}
	return &apiTransport{a: a, inst: inst, scopes: scopes, key: tokenKey(inst, key)}
}

// RoundTrip implements http.RoundTripper.
func (t *apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme+"://"+strings.ToLower(req.URL.Host) != t.origin {
		return nil, fmt.Errorf("%w: API request outside %s", ErrUntrustedServer, t.origin)
	}
	return t.do(req.Clone(req.Context()))
}

// do sends req, which it owns, with a token. When HipChat answers 401 it
// renews the token and sends req once more, if its body can be sent again.
func (t *apiTransport) do(req *http.Request) (*http.Response, error) {
	resp, tok, err := t.send(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized ||
		(req.Body != nil && req.GetBody == nil) {
		return resp, err
	}

	drainClose(resp.Body)
	t.a.tokens.drop(t.key, tok)
	if req.GetBody != nil {
		if req.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	resp, _, err = t.send(req)
	return resp, err
}

func (t *apiTransport) send(req *http.Request) (*http.Response, *accessToken, error) {
	tok, err := t.a.tokens.get(req.Context(), t.key, t.inst, t.scopes)
	if errors.Is(err, ErrInstallationRevoked) {
		t.a.revoked(t.inst)
	}
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.value)
	resp, err := t.a.cfg.client.Do(req)
	return resp, tok, err
}

// revoked forgets an installation whose token request HipChat answered
// 401: HipChat uninstalled it without telling the add-on.
func (a *HipChatAddon) revoked(inst *Installation) {
	a.cfg.logger.Warnf("token endpoint no longer knows %s; forgetting it", inst.OAuthID)
	if err := a.forget(context.Background(), inst); err != nil {
		a.cfg.logger.Errorf("forgetting revoked %s: %v", inst.OAuthID, err)
	}
}

// CallAPI calls HipChat's API as inst: method on path, relative to the
// installation's API base (such as "room/42/message"), with in encoded as
// the JSON body unless nil, and the JSON answer decoded into out unless
// nil. An answer outside 2xx is returned as an *[APIError], or a
// *[RateLimitError] for 429 (see [RetryRateLimited]).
func (a *HipChatAddon) CallAPI(ctx context.Context, inst *Installation, method, path string,
	in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("addon: encoding %s body: %w", path, err)
		}
	}
	target := inst.APIURL + strings.TrimPrefix(path, "/")
	t := a.newTransport(inst, nil)

	for attempt := 0; ; attempt++ {
		resp, err := t.call(ctx, method, target, body)
		if err != nil {
			return err
		}
		var rl *RateLimitError
		err = a.readAnswer(resp, out)
		drainClose(resp.Body)
		if !errors.As(err, &rl) || attempt >= a.cfg.rateLimitRetries {
			return err
		}
		if err := a.waitRateLimit(ctx, rl); err != nil {
			return err
		}
	}
}

// call sends one API request with a JSON body, unless body is nil.
func (t *apiTransport) call(ctx context.Context, method, target string,
	body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("addon: %w", err)
	}
	if err := t.a.checkTrustedURL(req.URL); err != nil {
		return nil, fmt.Errorf("addon: API URL of %s: %w", t.inst.OAuthID, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("addon: %s %s: %w", method, redactedURL(req.URL), err)
	}
	return resp, nil
}

func (a *HipChatAddon) readAnswer(resp *http.Response, out any) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp.Request, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentSize)).Decode(out); err != nil {
		return fmt.Errorf("addon: decoding %s answer: %w", redactedURL(resp.Request.URL), err)
	}
	return nil
}

// waitRateLimit waits until a rate limit resets, bounded by the configured
// longest wait and by ctx.
func (a *HipChatAddon) waitRateLimit(ctx context.Context, rl *RateLimitError) error {
	wait := a.cfg.rateLimitMaxWait
	if !rl.Reset.IsZero() {
		wait = min(wait, max(rl.Reset.Sub(a.cfg.now()), time.Second))
	}
	a.cfg.logger.Infof("rate limited by HipChat; retrying in %s", wait)
	return a.cfg.sleep(ctx, wait)
}

// SendNotification posts n to the room of a room installation. For a
// global installation, which has no room of its own, use
// [HipChatAddon.SendRoomNotification]. It is SendNotificationContext with
// context.Background().
func (a *HipChatAddon) SendNotification(installation *Installation, n *Notification) error {
	return a.SendNotificationContext(context.Background(), installation, n)
}

// SendNotificationContext posts n to the room of a room installation. n is
// validated first; an invalid one is not sent and the error wraps
// [ErrInvalidNotification]. A global installation gets [ErrRoomRequired].
func (a *HipChatAddon) SendNotificationContext(ctx context.Context, installation *Installation,
	n *Notification) error {
	if installation.IsGlobal() {
		return ErrRoomRequired
	}
	return a.SendRoomNotification(ctx, installation, strconv.Itoa(installation.RoomID), n)
}

// SendRoomNotification posts n to a room named by id or name. A room
// installation may only post to its own room.
func (a *HipChatAddon) SendRoomNotification(ctx context.Context, inst *Installation,
	room string, n *Notification) error {
	if n == nil {
		return fmt.Errorf("%w: nil notification", ErrInvalidNotification)
	}
	if err := n.Validate(); err != nil {
		return err
	}
	if err := checkRoom(inst, room); err != nil {
		return err
	}
	return a.CallAPI(ctx, inst, http.MethodPost, "room/"+url.PathEscape(room)+"/notification", n, nil)
}

// SendRoomMessage posts a plain message to a room as the add-on (scope
// send_message).
func (a *HipChatAddon) SendRoomMessage(ctx context.Context, inst *Installation, room,
	message string) error {
	if err := checkRoom(inst, room); err != nil {
		return err
	}
	body := map[string]string{"message": message}
	return a.CallAPI(ctx, inst, http.MethodPost, "room/"+url.PathEscape(room)+"/message", body, nil)
}

// PrivateMessage is a message to one user.
type PrivateMessage struct {
	Message       string `json:"message"`
	MessageFormat string `json:"message_format,omitempty"`
	Notify        bool   `json:"notify,omitempty"`
}

// SendPrivateMessage sends a private message to a user named by id, email
// or @mention name (scope send_message).
func (a *HipChatAddon) SendPrivateMessage(ctx context.Context, inst *Installation, user string,
	m *PrivateMessage) error {
	if m == nil || m.Message == "" {
		return fmt.Errorf("%w: message is required", ErrInvalidNotification)
	}
	return a.CallAPI(ctx, inst, http.MethodPost, "user/"+url.PathEscape(user)+"/message", m, nil)
}

// GetRoom looks a room up by id or name (scope view_room or view_group).
func (a *HipChatAddon) GetRoom(ctx context.Context, inst *Installation, room string) (*Room,
	error) {
	var r Room
	if err := a.CallAPI(ctx, inst, http.MethodGet, "room/"+url.PathEscape(room), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// checkRoom refuses a room installation acting in another room it names
// by id. A room named by name is left to HipChat to check.
func checkRoom(inst *Installation, room string) error {
	if room == "" {
		return ErrRoomRequired
	}
	if id, err := strconv.Atoi(room); err == nil && !inst.IsGlobal() && id != inst.RoomID {
		return fmt.Errorf("%w: installed in room %d, asked for %d", ErrWrongRoom, inst.RoomID, id)
	}
	return nil
}

// GlanceScope says who sees a glance update: the zero value means the
// installation's room for a room installation, and the whole group for a
// global one. RoomID names a room, UserID a user (alone: everywhere that
// user is; with a room: in that room only).
type GlanceScope struct {
	RoomID int
	UserID string
}

// UpdateGlanceData sets what the glance with the given key shows: in the
// room of a room installation, or group-wide for a global installation. It
// is UpdateGlanceDataContext with context.Background().
func (a *HipChatAddon) UpdateGlanceData(installation *Installation, key string,
	data *GlanceData) error {
	return a.UpdateGlanceDataContext(context.Background(), installation, key, data)
}

// UpdateGlanceDataContext is [HipChatAddon.UpdateGlanceData] with a
// context.
func (a *HipChatAddon) UpdateGlanceDataContext(ctx context.Context, inst *Installation,
	key string, data *GlanceData) error {
	if data == nil {
		return fmt.Errorf("%w: nil glance data", ErrInvalidGlance)
	}
	return a.UpdateGlance(ctx, inst, GlanceScope{}, GlanceUpdate{Key: key, Content: *data})
}

// UpdateGlance pushes new content for one or more glances to the users in
// scope. Every key must be a glance of the descriptor, and every content
// valid; a room installation may only update its own room.
func (a *HipChatAddon) UpdateGlance(ctx context.Context, inst *Installation, scope GlanceScope,
	updates ...GlanceUpdate) error {
	for _, u := range updates {
		if !a.hasGlance(u.Key) {
			return fmt.Errorf("%w: %q is not a glance of the descriptor", ErrInvalidGlance, u.Key)
		}
	}
	body, err := glanceUpdateBody(updates...)
	if err != nil {
		return err
	}
	path, err := glancePath(inst, scope)
	if err != nil {
		return err
	}
	return a.CallAPI(ctx, inst, http.MethodPost, path, json.RawMessage(body), nil)
}

func (a *HipChatAddon) hasGlance(key string) bool {
	for _, g := range a.descriptor.Capabilities.Glances {
		if g.Key == key {
			return true
		}
	}
	return false
}

// glancePath picks the glance update endpoint for scope.
func glancePath(inst *Installation, scope GlanceScope) (string, error) {
	room := scope.RoomID
	if !inst.IsGlobal() {
		if room != 0 && room != inst.RoomID {
			return "", fmt.Errorf("%w: installed in room %d, asked for %d", ErrWrongRoom, inst.RoomID, room)
		}
		room = inst.RoomID
	}
	user := url.PathEscape(scope.UserID)
	switch {
	case room != 0 && scope.UserID != "":
		return fmt.Sprintf("addon/ui/room/%d/user/%s", room, user), nil
	case room != 0:
		return fmt.Sprintf("addon/ui/room/%d", room), nil
	case scope.UserID != "":
		return "addon/ui/user/" + user, nil
	}
	return "addon/ui", nil
}
