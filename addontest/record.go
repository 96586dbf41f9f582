package addontest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// Notification is a room notification an add-on sent, through the API or
// as the JSON answer to a webhook.
type Notification struct {
	// RoomIDOrName is the room as the add-on named it in the URL; RoomID is
	// the room it resolved to.
	RoomIDOrName string
	RoomID       int
	OAuthID      string
	// Body is the request body as sent.
	Body          json.RawMessage
	Message       string
	Color         string
	MessageFormat string
	From          string
	Notify        bool
	AttachTo      string
	Card          json.RawMessage
	// FromWebhook is true when the notification was the add-on's answer
	// to a webhook rather than an API call.
	FromWebhook bool
}

// RoomMessage is a message an add-on sent to a room with send_message.
type RoomMessage struct {
	RoomIDOrName string
	RoomID       int
	OAuthID      string
	Message      string
	// ID is the message id the fake answered with.
	ID string
}

// PrivateMessage is a message an add-on sent to one user.
type PrivateMessage struct {
	// User is the user as the add-on named it: an id, an email address or
	// an @mention name.
	User          string
	OAuthID       string
	Message       string
	MessageFormat string
	Notify        bool
}

// Glance is one glance of a [GlanceUpdate].
type Glance struct {
	Key     string          `json:"key"`
	Content json.RawMessage `json:"content"`
}

// GlanceUpdate is a glance update an add-on sent.
type GlanceUpdate struct {
	// Scope is "group", "room", "user" or "room-user", after the path the
	// update was posted to.
	Scope   string
	RoomID  int
	UserID  string
	OAuthID string
	Body    json.RawMessage
	Glances []Glance
}

// RecordedRequest is one request the fake served.
type RecordedRequest struct {
	Method string
	// Path is the URL path, without the query (which may hold a token).
	Path   string
	Status int
	// OAuthID is the client the request authenticated as, if any.
	OAuthID string
	Time    time.Time
}

// records holds everything the fake recorded.
type records struct {
	notifications   []Notification
	roomMessages    []RoomMessage
	privateMessages []PrivateMessage
	glanceUpdates   []GlanceUpdate
	requests        []RecordedRequest
	tokenRequests   map[string]int
}

// Notifications returns the room notifications recorded so far, oldest
// first.
func (s *Server) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rec.notifications)
}

// WaitNotifications blocks until at least n notifications are recorded and
// returns them all, or returns the ones so far with ctx's error.
func (s *Server) WaitNotifications(ctx context.Context, n int) ([]Notification, error) {
	err := s.waitFor(ctx, func() bool { return len(s.rec.notifications) >= n })
	return s.Notifications(), err
}

// RoomMessages returns the room messages recorded so far, oldest first.
func (s *Server) RoomMessages() []RoomMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rec.roomMessages)
}

// PrivateMessages returns the private messages recorded so far, oldest
// first.
func (s *Server) PrivateMessages() []PrivateMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rec.privateMessages)
}

// GlanceUpdates returns the glance updates recorded so far, oldest first.
func (s *Server) GlanceUpdates() []GlanceUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rec.glanceUpdates)
}

// WaitGlanceUpdates is like [Server.WaitNotifications] for glance updates.
func (s *Server) WaitGlanceUpdates(ctx context.Context, n int) ([]GlanceUpdate, error) {
	err := s.waitFor(ctx, func() bool { return len(s.rec.glanceUpdates) >= n })
	return s.GlanceUpdates(), err
}

// Requests returns every request the fake served so far, oldest first,
// including those answered by an injected [Fault].
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rec.requests)
}

// Reset forgets everything recorded so far. Installations, rooms, tokens
// and faults stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec = records{}
	s.signalLocked()
}

// waitFor blocks until cond, evaluated with s.mu held, is true or ctx is
// done.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// signalLocked wakes the waiters. The caller holds s.mu.
func (s *Server) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// addRecord runs add with s.mu held and wakes the waiters.
func (s *Server) addRecord(add func(*records)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	add(&s.rec)
	s.signalLocked()
}

// recordingWriter records the request when its handler writes the status,
// which is before the response can reach the client.
type recordingWriter struct {
	http.ResponseWriter
	written bool
	onWrite func(status int)
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.written {
		w.written = true
		w.onWrite(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// record wraps next so that every request is recorded, and counts the
// requests to the token endpoint.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, ri := withRequestInfo(r.Context())
		r = r.WithContext(ctx)
		if id, _, ok := r.BasicAuth(); ok && r.URL.Path == TokenPath {
			ri.oauthID = id
			s.addRecord(func(rec *records) {
				if rec.tokenRequests == nil {
					rec.tokenRequests = map[string]int{}
				}
				rec.tokenRequests[id]++
			})
		}

		rw := &recordingWriter{ResponseWriter: w}
		rw.onWrite = func(status int) {
			rr := RecordedRequest{
				Method:  r.Method,
				Path:    r.URL.Path,
				Status:  status,
				OAuthID: ri.oauthID,
				Time:    s.now(),
			}
			s.addRecord(func(rec *records) { rec.requests = append(rec.requests, rr) })
		}
		next.ServeHTTP(rw, r)
		if !rw.written {
			rw.WriteHeader(http.StatusOK)
		}
	})
}
