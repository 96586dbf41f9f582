package addon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testClientID = "2f4c9e0a-1b3d-4e5f-8a7b-6c5d4e3f2a1b"

// webhookFixtures name the payloads in testdata/webhook_*.json.
var webhookFixtures = []string{"room_message", "room_notification", "room_enter", "room_topic_change"}

func readWebhookFixture(t testing.TB, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "webhook_"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func roomLinks(id string) map[string]string {
	return map[string]string{"self": "https://hipchat.example.com/v2/room/" + id}
}

func userLinks(id string) map[string]string {
	return map[string]string{"self": "https://hipchat.example.com/v2/user/" + id}
}

func engineering() *Room {
	return &Room{ID: 2589171, Name: "Engineering", Links: roomLinks("2589171")}
}

func ada() *User {
	return &User{ID: 1661743, MentionName: "Ada", Name: "Ada Lovelace", Links: userLinks("1661743")}
}

func TestParseWebhookEventFixtures(t *testing.T) {
	roomMessageRoom := engineering()
	roomMessageRoom.Links = map[string]string{
		"members":      "https://hipchat.example.com/v2/room/2589171/member",
		"participants": "https://hipchat.example.com/v2/room/2589171/participant",
		"self":         "https://hipchat.example.com/v2/room/2589171",
		"webhooks":     "https://hipchat.example.com/v2/room/2589171/webhook",
	}

	tests := []struct {
		fixture string
		want    WebhookEvent
	}{
		{"room_message", WebhookEvent{
			Event: "room_message", OAuthClientID: testClientID, WebhookID: 4491330,
			Item: WebhookItem{
				Message: &Message{
					ID:   "9ef4a3a3-6d1c-4d3d-9a4b-1b8d7d2e2f61",
					Date: "2016-01-27T05:03:56.412091+00:00",
					From: ada(),
					Mentions: []User{{
						ID: 1661744, MentionName: "Grace", Name: "Grace Hopper",
						Links: userLinks("1661744"),
					}},
					Message: "/weather   Zürich, @Grace ",
					Type:    "message",
				},
				Room: roomMessageRoom,
			},
		}},
		{"room_notification", WebhookEvent{
			Event: "room_notification", OAuthClientID: testClientID, WebhookID: 4491331,
			Item: WebhookItem{
				Message: &Message{
					ID:       "0c3b1e55-2f4a-4b8e-bf1d-7a6e5d4c3b2a",
					Date:     "2016-01-27T05:04:12.101010-08:00",
					FromName: "Build Server",
					Mentions: []User{},
					Message:  "Build <b>#42</b> passed",
					Type:     "notification",
				},
				Room: engineering(),
			},
		}},
		{"room_enter", WebhookEvent{
			Event: "room_enter", OAuthClientID: testClientID, WebhookID: 4491332,
			Item: WebhookItem{
				Room: engineering(),
				Sender: &User{
					ID: 1661745, MentionName: "Linus", Name: "Linus Torvalds",
					Links: userLinks("1661745"),
				},
			},
		}},
		{"room_topic_change", WebhookEvent{
			Event: "room_topic_change", OAuthClientID: testClientID, WebhookID: 4491333,
			Item: WebhookItem{
				Room:   engineering(),
				Sender: ada(),
				Topic:  "Release 2.0 on Friday — freeze Thursday",
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			body := readWebhookFixture(t, tt.fixture)
			got, err := ParseWebhookEvent(body)
			if err != nil {
				t.Fatal(err)
			}
			checkRaw(t, got, body)

			got.Raw, got.Item.Raw = nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
				if got.Item.Message != nil && tt.want.Item.Message != nil {
					t.Errorf("message got  %+v\nmessage want %+v", *got.Item.Message, *tt.want.Item.Message)
				}
			}
		})
	}
}

// checkRaw checks that e.Raw is body and e.Item.Raw the item as written in
// it, byte for byte.
func checkRaw(t *testing.T, e *WebhookEvent, body []byte) {
	t.Helper()
	if !bytes.Equal(e.Raw, body) {
		t.Errorf("Raw = %q, want the body", e.Raw)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Item.Raw, top["item"]) {
		t.Errorf("Item.Raw = %q, want %q", e.Item.Raw, top["item"])
	}
}

func TestParseWebhookEventRawIsACopy(t *testing.T) {
	body := readWebhookFixture(t, "room_message")
	want := bytes.Clone(body)
	e, err := ParseWebhookEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if !bytes.Equal(e.Raw, want) {
		t.Error("Raw changed with the caller's buffer")
	}
	if !bytes.Contains(want, e.Item.Raw) || len(e.Item.Raw) < 10 {
		t.Errorf("Item.Raw = %q changed with the caller's buffer", e.Item.Raw)
	}
}

func TestParseWebhookEventWebhookID(t *testing.T) {
	tests := []struct {
		name string
		id   string // as written in the body; "" leaves it out
		want int
	}{
		{"number", `7`, 7},
		{"numeric string", `"4491330"`, 4491330},
		{"null", `null`, 0},
		{"absent", ``, 0},
		{"zero", `0`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"event":"room_enter","oauth_client_id":"c"`
			if tt.id != "" {
				body += `,"webhook_id":` + tt.id
			}
			e, err := ParseWebhookEvent([]byte(body + "}"))
			if err != nil {
				t.Fatal(err)
			}
			if e.WebhookID != tt.want {
				t.Errorf("WebhookID = %d, want %d", e.WebhookID, tt.want)
			}
		})
	}
}

func TestParseWebhookEventMalformed(t *testing.T) {
	const ok = `"event":"room_message","oauth_client_id":"c"`
	tests := []struct {
		name string
		body string
		want string // in the error message
	}{
		{"empty", ``, "unexpected end"},
		{"not JSON", `event=room_message`, "invalid character"},
		{"array", `[]`, "cannot unmarshal"},
		{"string", `"room_message"`, "cannot unmarshal"},
		{"null", `null`, "missing event and oauth_client_id"},
		{"empty object", `{}`, "missing event and oauth_client_id"},
		{"event missing", `{"oauth_client_id":"c"}`, "missing event"},
		{"client missing", `{"event":"room_message","webhook_id":1}`, "missing oauth_client_id"},
		{"event a number", `{"event":1,"oauth_client_id":"c"}`, "cannot unmarshal"},
		{"trailing data", `{` + ok + `}{}`, "invalid character"},
		{"webhook_id fraction", `{` + ok + `,"webhook_id":1.5}`, "webhook_id"},
		{"webhook_id exponent", `{` + ok + `,"webhook_id":1e3}`, "webhook_id"},
		{"webhook_id negative", `{` + ok + `,"webhook_id":-4}`, "webhook_id"},
		{"webhook_id word", `{` + ok + `,"webhook_id":"four"}`, "webhook_id"},
		{"webhook_id bool", `{` + ok + `,"webhook_id":true}`, "webhook_id"},
		{"webhook_id too big", `{` + ok + `,"webhook_id":99999999999999999999}`, "webhook_id"},
		{"item a number", `{` + ok + `,"item":3}`, "cannot unmarshal"},
		{"from a number", `{` + ok + `,"item":{"message":{"from":5}}}`, "message.from"},
		{"from an array", `{` + ok + `,"item":{"message":{"from":["a"]}}}`, "message.from"},
		{"room id a string", `{` + ok + `,"item":{"room":{"id":"x"}}}`, "cannot unmarshal"},
		{"user id a string", `{` + ok + `,"item":{"message":{"from":{"id":"x"}}}}`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseWebhookEvent([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseWebhookEvent = %+v, want an error", e)
			}
			if !errors.Is(err, ErrInvalidWebhook) {
				t.Errorf("error %v does not wrap ErrInvalidWebhook", err)
			}
			if !strings.HasPrefix(err.Error(), "addon: invalid webhook: ") ||
				!strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestWebhookEventHelpers(t *testing.T) {
	tests := []struct {
		fixture   string
		text      string
		messageID string
		roomID    int
		sender    *User
	}{
		{"room_message", "/weather   Zürich, @Grace ",
			"9ef4a3a3-6d1c-4d3d-9a4b-1b8d7d2e2f61", 2589171, ada()},
		{"room_notification", "Build <b>#42</b> passed", "0c3b1e55-2f4a-4b8e-bf1d-7a6e5d4c3b2a", 2589171, nil},
		{"room_topic_change", "", "", 2589171, ada()},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			e, err := ParseWebhookEvent(readWebhookFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if got := e.MessageText(); got != tt.text {
				t.Errorf("MessageText() = %q, want %q", got, tt.text)
			}
			if got := e.MessageID(); got != tt.messageID {
				t.Errorf("MessageID() = %q, want %q", got, tt.messageID)
			}
			if got := e.RoomID(); got != tt.roomID {
				t.Errorf("RoomID() = %d, want %d", got, tt.roomID)
			}
			if got := e.Sender(); !reflect.DeepEqual(got, tt.sender) {
				t.Errorf("Sender() = %+v, want %+v", got, tt.sender)
			}
		})
	}
}

func TestWebhookEventHelpersOnEmpty(t *testing.T) {
	for _, e := range []*WebhookEvent{nil, {Event: "room_archived"}} {
		if e.MessageText() != "" || e.MessageID() != "" || e.RoomID() != 0 || e.Sender() != nil {
			t.Errorf("helpers on %+v return something", e)
		}
		if args, ok := e.CommandArgs("/weather"); ok || args != "" {
			t.Errorf("CommandArgs on %+v = %q, %v", e, args, ok)
		}
	}
}

func TestWebhookEventCommandArgs(t *testing.T) {
	tests := []struct {
		text, command string
		args          string
		ok            bool
	}{
		{"/weather   Zürich, @Grace ", "/weather", "Zürich, @Grace", true},
		{"/weather", "/weather", "", true},
		{"  /weather\tOslo", "/weather", "Oslo", true},
		{"/weather\u00a0Oslo", "/weather", "Oslo", true},
		{"/weathers Oslo", "/weather", "", false},
		{"/weather/Oslo", "/weather", "", false},
		{"see /weather Oslo", "/weather", "", false},
		{"/Weather Oslo", "/weather", "", false},
		{"/weather Oslo", "", "", false},
		{"", "/weather", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			e := &WebhookEvent{Item: WebhookItem{Message: &Message{Message: tt.text}}}
			args, ok := e.CommandArgs(tt.command)
			if args != tt.args || ok != tt.ok {
				t.Errorf("CommandArgs(%q) = %q, %v, want %q, %v", tt.command, args, ok, tt.args, tt.ok)
			}
		})
	}
}

func TestWebhookEventMarshalRoundTrip(t *testing.T) {
	for _, fixture := range webhookFixtures {
		t.Run(fixture, func(t *testing.T) {
			e, err := ParseWebhookEvent(readWebhookFixture(t, fixture))
			if err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseWebhookEvent(out)
			if err != nil {
				t.Fatalf("re-parsing %s: %v", out, err)
			}
			if !sameWebhookEvent(e, back) {
				t.Errorf("round trip changed the event:\n%s", out)
			}
		})
	}
}

func TestMessageMarshalFrom(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		from string // the "from" member written, "" when left out
	}{
		{"user", Message{From: &User{ID: 1, MentionName: "a", Name: "A"}},
			`"from":{"id":1,"mention_name":"a","name":"A","links":null}`},
		{"name", Message{FromName: "Build Server"}, `"from":"Build Server"`},
		{"none", Message{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := json.Marshal(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if tt.from == "" && strings.Contains(string(out), `"from"`) ||
				!strings.Contains(string(out), tt.from) {
				t.Errorf("Marshal = %s, want it to hold %q", out, tt.from)
			}
		})
	}
}

// sameWebhookEvent compares two events, leaving out their Raw fields.
func sameWebhookEvent(a, b *WebhookEvent) bool {
	x, y := *a, *b
	x.Raw, y.Raw, x.Item.Raw, y.Item.Raw = nil, nil, nil, nil
	return reflect.DeepEqual(x, y)
}

func FuzzParseWebhookEvent(f *testing.F) {
	for _, name := range webhookFixtures {
		f.Add(readWebhookFixture(f, name))
	}
	f.Add([]byte(`{"event":"e","oauth_client_id":"c","webhook_id":"12"}`))
	f.Add([]byte(`{"event":"e","oauth_client_id":"c","item":{"message":{"from":7}}}`))
	f.Add([]byte(`{"event":"e","oauth_client_id":"c","item":null,"webhook_id":null}`))
	f.Add([]byte(`[{"event":1}]`))

	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseWebhookEvent(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidWebhook) {
				t.Fatalf("error %v does not wrap ErrInvalidWebhook", err)
			}
			return
		}
		if e.Event == "" || e.OAuthClientID == "" || e.WebhookID < 0 {
			t.Fatalf("accepted %+v", e)
		}
		if !bytes.Equal(e.Raw, body) {
			t.Fatal("Raw is not the body")
		}
		e.CommandArgs("/x")
		e.Sender()

		// What was accepted survives a round trip.
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := ParseWebhookEvent(out)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", out, err)
		}
		if !sameWebhookEvent(e, back) {
			t.Fatalf("round trip changed %q into %s", body, out)
		}
	})
}

// A slash command read from a room_message webhook, answered with a
// notification attached to the message.
func ExampleParseWebhookEvent() {
	body := []byte(`{"event": "room_message", "oauth_client_id": "c1", "webhook_id": 7,
		"item": {"message": {"id": "m1", "message": "/echo hello", "type": "message",
			"from": {"id": 5, "mention_name": "Ada", "name": "Ada Lovelace"}},
		"room": {"id": 42, "name": "Engineering"}}}`)
	e, err := ParseWebhookEvent(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	if args, ok := e.CommandArgs("/echo"); ok {
		reply := TextNotification("@" + e.Sender().MentionName + " said " + args)
		reply.AttachTo = e.MessageID()
		fmt.Println(e.RoomID(), reply.Message, reply.AttachTo)
	}
	// Output:
	// 42 @Ada said hello m1
}
