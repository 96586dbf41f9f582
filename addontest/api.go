package addontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Room is a HipChat room the fake knows by name.
type Room struct {
	ID   int
	Name string
}

// User is a HipChat user, as it appears in webhooks.
type User struct {
	ID          int
	MentionName string
	Name        string
}

// maxBody limits the request bodies the API reads.
const maxBody = 1 << 20

// SetRoom declares a room, so that the API can find it by name and answer
// room lookups for it. Rooms named by a numeric id need not be declared to
// receive messages.
func (s *Server) SetRoom(id int, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rooms[id] = Room{ID: id, Name: name}
}

// SetUser declares a user, so that [Server.SendRoomMessage] can list the
// user in the mentions of a message that says @MentionName.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// apiRoutes registers the API endpoints.
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v2/room/{room}/notification", s.serveNotification)
	mux.HandleFunc("POST /v2/room/{room}/message", s.serveRoomMessage)
	mux.HandleFunc("GET /v2/room/{room}", s.serveRoom)
	mux.HandleFunc("POST /v2/user/{user}/message", s.servePrivateMessage)
	mux.HandleFunc("POST /v2/addon/ui", s.serveGlance("group"))
	mux.HandleFunc("POST /v2/addon/ui/room/{room}", s.serveGlance("room"))
	mux.HandleFunc("POST /v2/addon/ui/user/{user}", s.serveGlance("user"))
	mux.HandleFunc("POST /v2/addon/ui/room/{room}/user/{user}", s.serveGlance("room-user"))
}

// serveCapabilities serves HipChat's own capabilities document.
func (s *Server) serveCapabilities(w http.ResponseWriter, _ *http.Request) {
	scopes := map[string]any{}
	for _, sc := range knownScopes {
		scopes[sc] = map[string]string{"id": sc, "name": sc, "description": sc}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":        "HipChat",
		"key":         "hipchat",
		"description": "A fake HipChat for tests",
		"vendor":      map[string]string{"name": "Atlassian", "url": s.URL + "/"},
		"links": map[string]string{
			"self":     s.CapabilitiesURL(),
			"api":      s.APIURL(),
			"homepage": s.URL + "/",
		},
		"capabilities": map[string]any{
			"oauth2Provider": map[string]string{
				"tokenUrl":         s.TokenURL(),
				"authorizationUrl": s.URL + AuthorizePath,
			},
			"hipchatApiProvider": map[string]any{
				"url":             s.APIURL(),
				"availableScopes": scopes,
			},
		},
	})
}

// notificationRequest is the body of send_notification.
type notificationRequest struct {
	Message       *string         `json:"message"`
	MessageFormat string          `json:"message_format"`
	Color         string          `json:"color"`
	Notify        bool            `json:"notify"`
	From          string          `json:"from"`
	AttachTo      string          `json:"attach_to"`
	Card          json.RawMessage `json:"card"`
}

// serveNotification is send_notification.
func (s *Server) serveNotification(w http.ResponseWriter, r *http.Request) {
	c := s.authorize(w, r, "send_notification")
	if c == nil {
		return
	}
	roomID, ok := s.roomFor(w, c, r.PathValue("room"))
	if !ok {
		return
	}
	body, req, err := decodeBody[notificationRequest](r)
	if err == nil {
		err = checkNotification(req)
	}
	if err != nil {
		badRequest(w, err)
		return
	}

	n := Notification{
		RoomIDOrName: r.PathValue("room"), RoomID: roomID, OAuthID: c.id,
		Body: body, Message: *req.Message, Color: req.Color,
		MessageFormat: req.MessageFormat, From: req.From, Notify: req.Notify,
		AttachTo: req.AttachTo, Card: req.Card,
	}
	s.addRecord(func(rec *records) { rec.notifications = append(rec.notifications, n) })
	w.WriteHeader(http.StatusNoContent)
}

// checkNotification validates a notification as HipChat did.
func checkNotification(req notificationRequest) error {
	if req.Message == nil || !lengthIn(*req.Message, 1, 10000) {
		return errors.New("message must be 1-10000 characters")
	}
	if !oneOf(req.MessageFormat, "", "html", "text") {
		return errors.New("message_format must be html or text")
	}
	if !oneOf(req.Color, "", "yellow", "green", "red", "purple", "gray", "random") {
		return errors.New("color must be yellow, green, red, purple, gray or random")
	}
	if !lengthIn(req.From, 0, 64) {
		return errors.New("from must be at most 64 characters")
	}
	if len(req.Card) > 0 && string(req.Card) != "null" {
		return checkCard(req.Card)
	}
	return nil
}

// card is the part of a notification card the fake checks.
type card struct {
	Style       string          `json:"style"`
	ID          string          `json:"id"`
	Title       string          `json:"title"`
	Format      string          `json:"format"`
	Description json.RawMessage `json:"description"`
	Thumbnail   *struct {
		URL string `json:"url"`
	} `json:"thumbnail"`
	Activity *struct {
		HTML string `json:"html"`
	} `json:"activity"`
}

// checkCard validates a notification card.
func checkCard(raw json.RawMessage) error {
	var cd card
	if err := json.Unmarshal(raw, &cd); err != nil {
		return fmt.Errorf("card: %w", err)
	}
	if !oneOf(cd.Style, "file", "image", "application", "link", "media") {
		return errors.New("card.style must be file, image, application, link or media")
	}
	if cd.ID == "" || !lengthIn(cd.Title, 1, 500) {
		return errors.New("card needs an id and a title of 1-500 characters")
	}
	if !oneOf(cd.Format, "", "compact", "medium") {
		return errors.New("card.format must be compact or medium")
	}
	if cd.Thumbnail != nil && cd.Thumbnail.URL == "" {
		return errors.New("card.thumbnail needs a url")
	}
	if cd.Activity != nil && cd.Activity.HTML == "" {
		return errors.New("card.activity needs html")
	}
	return checkDescription(cd.Description)
}

// checkDescription accepts a string or {value, format: html or text}.
func checkDescription(raw json.RawMessage) error {
	if len(raw) == 0 || raw[0] == '"' || string(raw) == "null" {
		return nil
	}
	var d struct {
		Value  string `json:"value"`
		Format string `json:"format"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || !oneOf(d.Format, "html", "text") {
		return errors.New("card.description must be a string or {value, format}")
	}
	return nil
}

// serveRoomMessage is send_message to a room.
func (s *Server) serveRoomMessage(w http.ResponseWriter, r *http.Request) {
	c := s.authorize(w, r, "send_message")
	if c == nil {
		return
	}
	roomID, ok := s.roomFor(w, c, r.PathValue("room"))
	if !ok {
		return
	}
	_, req, err := decodeBody[struct {
		Message string `json:"message"`
	}](r)
	if err == nil && !lengthIn(req.Message, 1, 1000) {
		err = errors.New("message must be 1-1000 characters")
	}
	if err != nil {
		badRequest(w, err)
		return
	}

	m := RoomMessage{
		RoomIDOrName: r.PathValue("room"), RoomID: roomID, OAuthID: c.id,
		Message: req.Message, ID: newUUID(),
	}
	s.addRecord(func(rec *records) { rec.roomMessages = append(rec.roomMessages, m) })
	writeJSON(w, http.StatusCreated, map[string]string{
		"id": m.ID, "timestamp": hipchatTime(s.now()),
	})
}

// servePrivateMessage is send_message to a user.
func (s *Server) servePrivateMessage(w http.ResponseWriter, r *http.Request) {
	c := s.authorize(w, r, "send_message")
	if c == nil {
		return
	}
	_, req, err := decodeBody[struct {
		Message       string `json:"message"`
		MessageFormat string `json:"message_format"`
		Notify        bool   `json:"notify"`
	}](r)
	if err == nil && !lengthIn(req.Message, 1, 10000) {
		err = errors.New("message must be 1-10000 characters")
	}
	if err == nil && !oneOf(req.MessageFormat, "", "html", "text") {
		err = errors.New("message_format must be html or text")
	}
	if err != nil {
		badRequest(w, err)
		return
	}

	m := PrivateMessage{
		User: r.PathValue("user"), OAuthID: c.id, Message: req.Message,
		MessageFormat: req.MessageFormat, Notify: req.Notify,
	}
	s.addRecord(func(rec *records) { rec.privateMessages = append(rec.privateMessages, m) })
	w.WriteHeader(http.StatusNoContent)
}

// serveRoom is the room lookup, for rooms declared with SetRoom.
func (s *Server) serveRoom(w http.ResponseWriter, r *http.Request) {
	if s.authorize(w, r, "view_room", "view_group") == nil {
		return
	}
	id, ok := s.resolveRoom(r.PathValue("room"))
	s.mu.Lock()
	room, known := s.rooms[id]
	s.mu.Unlock()
	if !ok || !known {
		writeError(w, http.StatusNotFound, "Not Found", "room not found")
		return
	}

	self := s.APIURL() + "room/" + strconv.Itoa(room.ID)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": room.ID, "name": room.Name, "privacy": "public",
		"is_archived": false, "topic": "",
		"links": map[string]string{
			"self": self, "webhooks": self + "/webhook",
			"members": self + "/member", "participants": self + "/participant",
		},
	})
}

// serveGlance returns the handler of glance updates for one scope.
func (s *Server) serveGlance(scope string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := s.authorize(w, r)
		if c == nil {
			return
		}
		u := GlanceUpdate{Scope: scope, OAuthID: c.id, UserID: r.PathValue("user")}
		if !s.glanceTarget(w, c, r, &u) {
			return
		}
		body, req, err := decodeBody[struct {
			Glance []Glance `json:"glance"`
		}](r)
		if err == nil {
			err = checkGlances(c.desc, req.Glance)
		}
		if err != nil {
			badRequest(w, err)
			return
		}

		u.Body, u.Glances = body, req.Glance
		s.addRecord(func(rec *records) { rec.glanceUpdates = append(rec.glanceUpdates, u) })
		w.WriteHeader(http.StatusNoContent)
	}
}

// glanceTarget checks where a glance update goes: a room installation may
// update only its own room, and not the whole group.
func (s *Server) glanceTarget(w http.ResponseWriter, c *oauthClient, r *http.Request,
	u *GlanceUpdate) bool {
	switch u.Scope {
	case "group":
		if c.roomID != 0 {
			writeError(w, http.StatusForbidden, "Forbidden",
				"a room installation cannot update the group's glances")
			return false
		}
	case "room", "room-user":
		id, ok := s.roomFor(w, c, r.PathValue("room"))
		if !ok {
			return false
		}
		u.RoomID = id
	}
	return true
}

// checkGlances validates the glances of an update against the descriptor.
func checkGlances(d *descriptor, gs []Glance) error {
	if len(gs) == 0 {
		return errors.New("glance must list at least one glance")
	}
	for _, g := range gs {
		if _, ok := d.glance(g.Key); !ok {
			return fmt.Errorf("unknown glance key %q", g.Key)
		}
		if len(g.Content) == 0 || g.Content[0] != '{' {
			return fmt.Errorf("glance %q needs a content object", g.Key)
		}
	}
	return nil
}

// roomFor resolves the room of a request and checks that c may use it. It
// writes the error response and returns false when it may not.
func (s *Server) roomFor(w http.ResponseWriter, c *oauthClient, idOrName string) (int, bool) {
	id, ok := s.resolveRoom(idOrName)
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", "room not found")
		return 0, false
	}
	if c.roomID != 0 && c.roomID != id {
		writeError(w, http.StatusForbidden, "Forbidden",
			"a room installation may only use its own room")
		return 0, false
	}
	return id, true
}

// resolveRoom turns a room id or a declared room name into an id.
func (s *Server) resolveRoom(idOrName string) (int, bool) {
	if id, err := strconv.Atoi(idOrName); err == nil && id > 0 {
		return id, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, room := range s.rooms {
		if room.Name == idOrName {
			return room.ID, true
		}
	}
	return 0, false
}

// decodeBody reads a JSON request body into a T, returning the raw body too.
func decodeBody[T any](r *http.Request) (json.RawMessage, T, error) {
	var v T
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return nil, v, fmt.Errorf("reading body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil {
		return nil, v, fmt.Errorf("body is not valid JSON: %w", err)
	}
	return body, v, nil
}

// badRequest answers 400 with HipChat's error format.
func badRequest(w http.ResponseWriter, err error) {
	writeError(w, http.StatusBadRequest, "Bad Request", err.Error())
}

// lengthIn reports whether s has between lo and hi characters.
func lengthIn(s string, lo, hi int) bool {
	n := utf8.RuneCountInString(s)
	return n >= lo && n <= hi
}

// oneOf reports whether v is one of allowed.
func oneOf(v string, allowed ...string) bool { return slices.Contains(allowed, v) }
