package addontest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hipchat-connect/addon/addontest"
)

func TestCapabilitiesDocument(t *testing.T) {
	hc := addontest.NewTestServer(t)
	var doc struct {
		Links struct {
			Self, API string
		}
		Capabilities struct {
			OAuth2Provider struct {
				TokenURL         string `json:"tokenUrl"`
				AuthorizationURL string `json:"authorizationUrl"`
			} `json:"oauth2Provider"`
			HipchatAPIProvider struct {
				URL             string                     `json:"url"`
				AvailableScopes map[string]json.RawMessage `json:"availableScopes"`
			} `json:"hipchatApiProvider"`
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hc.CapabilitiesURL(), nil)
	if status, _ := doJSONStatus(t, req, &doc); status != 200 {
		t.Fatalf("status %d", status)
	}
	c := doc.Capabilities
	if doc.Links.Self != hc.CapabilitiesURL() || doc.Links.API != hc.APIURL() ||
		c.HipchatAPIProvider.URL != hc.URL+"/v2/" || c.OAuth2Provider.TokenURL != hc.TokenURL() ||
		c.OAuth2Provider.AuthorizationURL == "" {
		t.Errorf("capabilities %+v", doc)
	}
	if _, ok := c.HipchatAPIProvider.AvailableScopes["send_notification"]; !ok {
		t.Error("send_notification missing from availableScopes")
	}
}

// apiFixture installs the test add-on and returns a token with every scope.
func apiFixture(t *testing.T, roomID int) (*addontest.Server, *addontest.Installation, string) {
	t.Helper()
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: roomID})
	return hc, inst, mustToken(t, hc, inst, "")
}

func TestNotificationValidation(t *testing.T) {
	hc, _, tok := apiFixture(t, 0)
	long := strings.Repeat("x", 10001)
	tests := []struct {
		name string
		body string
		want int
	}{
		{"minimal", `{"message":"hi"}`, 204},
		{"full", `{"message":"<b>hi</b>","message_format":"html","color":"red",` +
			`"notify":true,"from":"bot"}`, 204},
		{"card", `{"message":"m","card":{"style":"link","id":"c1","title":"T",` +
			`"description":{"value":"d","format":"text"}}}`, 204},
		{"not json", `message=hi`, 400},
		{"no message", `{"color":"red"}`, 400},
		{"empty message", `{"message":""}`, 400},
		{"too long", `{"message":"` + long + `"}`, 400},
		{"bad color", `{"message":"hi","color":"blue"}`, 400},
		{"bad format", `{"message":"hi","message_format":"markdown"}`, 400},
		{"long from", `{"message":"hi","from":"` + strings.Repeat("f", 65) + `"}`, 400},
		{"notify not bool", `{"message":"hi","notify":"yes"}`, 400},
		{"card without title", `{"message":"m","card":{"style":"link","id":"c1"}}`, 400},
		{"card bad style", `{"message":"m","card":{"style":"poster","id":"c1","title":"T"}}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := call(t, http.MethodPost, hc.APIURL()+"room/1/notification", tok, tt.body)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %s", status, tt.want, body)
			}
			if status == 400 && !strings.Contains(string(body), `"code":400`) {
				t.Errorf("400 body %s lacks HipChat's error format", body)
			}
		})
	}
	if n := len(hc.Notifications()); n != 3 {
		t.Errorf("%d notifications recorded, want 3", n)
	}
}

func TestNotificationRecorded(t *testing.T) {
	hc, inst, tok := apiFixture(t, 0)
	hc.SetRoom(12, "Ops Room")
	body := `{"message":"deploy done","color":"green","notify":true,"from":"ci"}`
	if s, _, _ := call(t, http.MethodPost, hc.APIURL()+"room/Ops%20Room/notification", tok, body); s != 204 {
		t.Fatalf("status %d", s)
	}
	n := hc.Notifications()[0]
	if n.RoomIDOrName != "Ops Room" || n.RoomID != 12 || n.OAuthID != inst.OAuthID ||
		n.Message != "deploy done" || n.Color != "green" || !n.Notify || n.From != "ci" ||
		string(n.Body) != body {
		t.Errorf("notification %+v", n)
	}
}

func TestRoomInstallationStaysInItsRoom(t *testing.T) {
	hc, _, tok := apiFixture(t, 7)
	hc.SetRoom(7, "Seven")
	hc.SetRoom(8, "Eight")
	tests := []struct {
		room string
		want int
	}{
		{"7", 204}, {"Seven", 204}, {"8", 403}, {"Eight", 403}, {"Nowhere", 404},
	}
	for _, tt := range tests {
		status, _, _ := call(t, http.MethodPost, hc.APIURL()+"room/"+tt.room+"/notification",
			tok, `{"message":"hi"}`)
		if status != tt.want {
			t.Errorf("room %s: status %d, want %d", tt.room, status, tt.want)
		}
	}
}

func TestMessages(t *testing.T) {
	hc, inst, tok := apiFixture(t, 0)

	status, _, body := call(t, http.MethodPost, hc.APIURL()+"room/3/message", tok, `{"message":"hello room"}`)
	var created struct{ ID, Timestamp string }
	_ = json.Unmarshal(body, &created)
	if status != http.StatusCreated || created.ID == "" || created.Timestamp == "" {
		t.Fatalf("room message: status %d, body %s", status, body)
	}
	if m := hc.RoomMessages(); len(m) != 1 || m[0].RoomID != 3 || m[0].Message != "hello room" ||
		m[0].ID != created.ID || m[0].OAuthID != inst.OAuthID {
		t.Errorf("room messages %+v", m)
	}

	status, _, _ = call(t, http.MethodPost, hc.APIURL()+"user/ann@example.com/message", tok,
		`{"message":"psst","notify":true}`)
	if status != http.StatusNoContent {
		t.Fatalf("private message: status %d", status)
	}
	if m := hc.PrivateMessages(); len(m) != 1 || m[0].User != "ann@example.com" ||
		m[0].Message != "psst" || !m[0].Notify {
		t.Errorf("private messages %+v", m)
	}

	if s, _, _ := call(t, http.MethodPost, hc.APIURL()+"user/1/message", tok, `{}`); s != 400 {
		t.Errorf("empty private message: status %d, want 400", s)
	}
}

func TestRoomLookup(t *testing.T) {
	hc, _, tok := apiFixture(t, 0)
	hc.SetRoom(5, "Five")
	status, _, body := call(t, http.MethodGet, hc.APIURL()+"room/Five", tok, "")
	var room struct {
		ID    int
		Name  string
		Links struct{ Self string }
	}
	_ = json.Unmarshal(body, &room)
	if status != 200 || room.ID != 5 || room.Name != "Five" || room.Links.Self != hc.APIURL()+"room/5" {
		t.Errorf("status %d, room %s", status, body)
	}
	if s, _, _ := call(t, http.MethodGet, hc.APIURL()+"room/6", tok, ""); s != 404 {
		t.Errorf("unknown room: status %d, want 404", s)
	}
}

func TestGlanceUpdates(t *testing.T) {
	hc, inst, tok := apiFixture(t, 0)
	body := `{"glance":[{"key":"status","content":{"label":{"type":"html","value":"3"}}}]}`
	tests := []struct {
		path   string
		scope  string
		roomID int
		userID string
	}{
		{"addon/ui", "group", 0, ""},
		{"addon/ui/room/4", "room", 4, ""},
		{"addon/ui/user/u1", "user", 0, "u1"},
		{"addon/ui/room/4/user/u1", "room-user", 4, "u1"},
	}
	for i, tt := range tests {
		if s, _, b := call(t, http.MethodPost, hc.APIURL()+tt.path, tok, body); s != 204 {
			t.Fatalf("%s: status %d: %s", tt.path, s, b)
		}
		u := hc.GlanceUpdates()[i]
		if u.Scope != tt.scope || u.RoomID != tt.roomID || u.UserID != tt.userID ||
			u.OAuthID != inst.OAuthID || len(u.Glances) != 1 || u.Glances[0].Key != "status" ||
			!strings.Contains(string(u.Glances[0].Content), `"value":"3"`) {
			t.Errorf("%s: recorded %+v", tt.path, u)
		}
	}
}

func TestGlanceUpdateRefusals(t *testing.T) {
	hc, _, tok := apiFixture(t, 4)
	tests := []struct {
		name, path, body string
		want             int
		noToken          bool
	}{
		{"unknown key", "addon/ui/room/4", `{"glance":[{"key":"nope","content":{}}]}`, 400, false},
		{"empty list", "addon/ui/room/4", `{"glance":[]}`, 400, false},
		{"malformed", "addon/ui/room/4", `{"glance":`, 400, false},
		{"no content", "addon/ui/room/4", `{"glance":[{"key":"status"}]}`, 400, false},
		{"other room", "addon/ui/room/5", `{"glance":[{"key":"status","content":{}}]}`, 403, false},
		{"group from a room install", "addon/ui", `{"glance":[{"key":"status","content":{}}]}`, 403, false},
		{"no token", "addon/ui/room/4", `{"glance":[]}`, 401, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tok
			if tt.noToken {
				token = ""
			}
			if s, _, _ := call(t, http.MethodPost, hc.APIURL()+tt.path, token, tt.body); s != tt.want {
				t.Errorf("status %d, want %d", s, tt.want)
			}
		})
	}
	if n := len(hc.GlanceUpdates()); n != 0 {
		t.Errorf("%d refused updates recorded", n)
	}
}

func TestRequestsRecorded(t *testing.T) {
	hc, inst, tok := apiFixture(t, 0)
	call(t, http.MethodPost, hc.APIURL()+"room/1/notification?auth_token=x", tok, `{"message":"a"}`)

	var found bool
	for _, r := range hc.Requests() {
		if r.Path == "/v2/room/1/notification" {
			found = r.Method == "POST" && r.Status == 204 && r.OAuthID == inst.OAuthID
		}
		if strings.Contains(r.Path, "auth_token") {
			t.Errorf("recorded path %q keeps the query", r.Path)
		}
	}
	if !found {
		t.Errorf("notification request not recorded: %+v", hc.Requests())
	}
	hc.Reset()
	if len(hc.Requests()) != 0 || len(hc.Notifications()) != 0 {
		t.Error("Reset kept records")
	}
}
