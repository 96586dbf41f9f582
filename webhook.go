package addon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidWebhook is wrapped by the errors [ParseWebhookEvent] returns
// for a body that is not a webhook HipChat could have sent.
var ErrInvalidWebhook = errors.New("addon: invalid webhook")

// WebhookEvent is a webhook HipChat sent: {event, item, oauth_client_id,
// webhook_id}. OAuthClientID names the installation the webhook belongs to;
// it proves nothing by itself, since anyone can write it into a body: only
// a verified JWT does.
//
// What Item holds depends on Event: a message and a room for room_message
// and room_notification, a room and a sender for room_enter and room_exit,
// and a topic as well for room_topic_change. Raw keeps the whole body for
// anything else.
type WebhookEvent struct {
	Event         string      `json:"event"`
	OAuthClientID string      `json:"oauth_client_id"`
	WebhookID     int         `json:"webhook_id"`
	Item          WebhookItem `json:"item"`

	// Raw is the whole body as received.
	Raw json.RawMessage `json:"-"`
}

// WebhookItem is the item of a webhook. Fields the event does not carry
// are nil or empty; Raw keeps the item as received, fields this type does
// not know included.
type WebhookItem struct {
	Message *Message `json:"message,omitempty"`
	Room    *Room    `json:"room,omitempty"`
	Sender  *User    `json:"sender,omitempty"`
	Topic   string   `json:"topic,omitempty"`

	// Raw is the item as received.
	Raw json.RawMessage `json:"-"`
}

// Message is a message in a room, as a webhook reports it.
//
// HipChat writes "from" as an object for a room_message, read into From,
// and as a plain string for a room_notification, read into FromName; a
// Message is written back the same way.
type Message struct {
	ID string `json:"id"`
	// Date is ISO 8601 with an offset, as HipChat wrote it, such as
	// "2016-01-27T05:03:56.412091+00:00".
	Date     string `json:"date"`
	From     *User  `json:"-"`
	FromName string `json:"-"`
	Mentions []User `json:"mentions"`
	Message  string `json:"message"`
	// Type is "message" for a user's message and "notification" for a
	// notification.
	Type string `json:"type"`
}

// Room is a HipChat room, as a webhook names it.
type Room struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Links map[string]string `json:"links"`
}

// User is a HipChat user, as a webhook names them.
type User struct {
	ID          int               `json:"id"`
	MentionName string            `json:"mention_name"`
	Name        string            `json:"name"`
	Links       map[string]string `json:"links"`
}

// ParseWebhookEvent decodes a webhook body and sets the Raw fields. The
// error wraps [ErrInvalidWebhook] when the body is not a JSON object of the
// webhook's shape or lacks event or oauth_client_id. webhook_id may be a
// number or a string of digits.
//
// ParseWebhookEvent does not check who sent the body.
func ParseWebhookEvent(body []byte) (*WebhookEvent, error) {
	var e WebhookEvent
	if err := json.Unmarshal(body, &e); err != nil {
		if errors.Is(err, ErrInvalidWebhook) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidWebhook, err)
	}

	var missing []string
	if e.Event == "" {
		missing = append(missing, "event")
	}
	if e.OAuthClientID == "" {
		missing = append(missing, "oauth_client_id")
	}
	if missing != nil {
		return nil, fmt.Errorf("%w: missing %s", ErrInvalidWebhook, strings.Join(missing, " and "))
	}

	e.Raw = slices.Clone(body)
	return &e, nil
}

// webhookEventFields has WebhookEvent's fields without its methods.
type webhookEventFields WebhookEvent

// UnmarshalJSON reads a webhook, accepting webhook_id as a number or a
// string of digits, and keeps a copy of data in Raw. It checks no required
// field; [ParseWebhookEvent] does.
func (e *WebhookEvent) UnmarshalJSON(data []byte) error {
	var fields struct {
		*webhookEventFields
		WebhookID json.RawMessage `json:"webhook_id"`
	}
	fields.webhookEventFields = (*webhookEventFields)(e)
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}

	id, err := parseWebhookID(fields.WebhookID)
	if err != nil {
		return err
	}
	e.WebhookID = id
	e.Raw = slices.Clone(data)
	return nil
}

// parseWebhookID reads a webhook_id written as a number or a string of
// digits; absent or null is zero.
func parseWebhookID(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("%w: webhook_id: %w", ErrInvalidWebhook, err)
		}
	}
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("%w: webhook_id is not a non-negative integer", ErrInvalidWebhook)
	}
	return id, nil
}

// webhookItemFields has WebhookItem's fields without its methods.
type webhookItemFields WebhookItem

// UnmarshalJSON reads an item and keeps a copy of data in Raw.
func (it *WebhookItem) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(data, (*webhookItemFields)(it)); err != nil {
		return err
	}
	it.Raw = slices.Clone(data)
	return nil
}

// messageFields has Message's fields without its methods.
type messageFields Message

// MarshalJSON writes "from" as an object when From is set, as a string
// when only FromName is, and leaves it out otherwise.
func (m Message) MarshalJSON() ([]byte, error) {
	var from any
	switch {
	case m.From != nil:
		from = m.From
	case m.FromName != "":
		from = m.FromName
	}
	return json.Marshal(struct {
		messageFields
		From any `json:"from,omitempty"`
	}{messageFields(m), from})
}

// UnmarshalJSON reads "from" as an object into From or as a string into
// FromName; any other kind of value is an error.
func (m *Message) UnmarshalJSON(data []byte) error {
	var fields struct {
		*messageFields
		From json.RawMessage `json:"from"`
	}
	fields.messageFields = (*messageFields)(m)
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}

	from := fields.From
	switch {
	case len(from) == 0 || string(from) == "null":
		return nil
	case from[0] == '"':
		return json.Unmarshal(from, &m.FromName)
	case from[0] == '{':
		m.From = new(User)
		return json.Unmarshal(from, m.From)
	}
	return fmt.Errorf("%w: message.from is neither an object nor a string", ErrInvalidWebhook)
}

// MessageText returns the text of the webhook's message, or "" when it
// carries none.
func (e *WebhookEvent) MessageText() string {
	if e == nil || e.Item.Message == nil {
		return ""
	}
	return e.Item.Message.Message
}

// MessageID returns the ID of the webhook's message, or "" when it carries
// none. A notification answering the message can name it in AttachTo.
func (e *WebhookEvent) MessageID() string {
	if e == nil || e.Item.Message == nil {
		return ""
	}
	return e.Item.Message.ID
}

// RoomID returns the ID of the webhook's room, or 0 when it names none.
func (e *WebhookEvent) RoomID() int {
	if e == nil || e.Item.Room == nil {
		return 0
	}
	return e.Item.Room.ID
}

// Sender returns the user who sent the webhook's message, or who entered,
// left or changed the topic of the room. It is nil for a notification,
// which names its sender only by [Message.FromName].
func (e *WebhookEvent) Sender() *User {
	switch {
	case e == nil:
		return nil
	case e.Item.Message != nil && e.Item.Message.From != nil:
		return e.Item.Message.From
	}
	return e.Item.Sender
}

// CommandArgs reports whether the webhook's message is the slash command
// command, such as "/weather", and returns what follows it with surrounding
// white space removed. The command must be the first word of the message:
// "/weather  Oslo " gives "Oslo", while "/weathers" and "see /weather" do
// not match. The match is case-sensitive, like the regular expression a
// webhook's pattern would hold.
func (e *WebhookEvent) CommandArgs(command string) (args string, ok bool) {
	text := strings.TrimLeftFunc(e.MessageText(), unicode.IsSpace)
	rest, found := strings.CutPrefix(text, command)
	if command == "" || !found {
		return "", false
	}
	if r, _ := utf8.DecodeRuneInString(rest); rest != "" && !unicode.IsSpace(r) {
		return "", false
	}
	return strings.TrimSpace(rest), true
}
