package addon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hipchat-connect/addon/addontest"
)

func echoHandler(ctx context.Context, a *HipChatAddon, inst *Installation, e *WebhookEvent) (*Notification, error) {
	if _, ok := InstallationFromContext(ctx); !ok {
		return nil, errors.New("no installation in context")
	}
	return &Notification{Message: "echo: " + e.MessageText(), MessageFormat: FormatText}, nil
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWebhookAnswerIsPosted(t *testing.T) {
	f := setup(t, nil, OnWebhook(EventRoomMessage, echoHandler))
	hi := f.install(t, 42)
	for _, style := range []addontest.SignStyle{
		addontest.SignHeader, addontest.SignHeaderTokenEquals, addontest.SignQuery,
	} {
		resp, err := f.hc.SendRoomMessage(t.Context(), hi.OAuthID, 42,
			addontest.User{ID: 3, Name: "Ann", MentionName: "ann"}, "/test hello",
			addontest.SignedWith(style))
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
			t.Fatalf("sign style %d: status %d %s", style, resp.StatusCode, body)
		}
	}
	notes := f.hc.Notifications()
	if len(notes) != 3 || !notes[0].FromWebhook || notes[0].Message != "echo: /test hello" {
		t.Errorf("notifications %+v", notes)
	}
}

func TestWebhookWithoutHandlerAnswers204(t *testing.T) {
	f := setup(t, nil)
	hi := f.install(t, 42)
	resp, err := f.hc.SendWebhook(t.Context(), hi.OAuthID, EventRoomEnter, map[string]any{
		"room": map[string]any{"id": 42, "name": "R"}, "sender": map[string]any{"id": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("status %d, want 204", resp.StatusCode)
	}
}

func TestWebhookDefences(t *testing.T) {
	f := setup(t, nil, OnWebhook(EventRoomMessage, echoHandler))
	hi := f.install(t, 42)
	other := f.install(t, 43)
	otherToken, err := f.hc.Token(other.OAuthID, "1", 43, 0)
	if err != nil {
		t.Fatal(err)
	}
	validToken, err := f.hc.Token(hi.OAuthID, "1", 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	body := func(event, client string) string {
		return fmt.Sprintf(`{"event":%q,"oauth_client_id":%q,"webhook_id":1,"item":{"message":{"message":"/test"},"room":{"id":42}}}`,
			event, client)
	}
	tests := []struct {
		name, auth, body string
		status           int
	}{
		{"unsigned", "", body(EventRoomMessage, hi.OAuthID), 401},
		{"garbage token", "JWT abc.def.ghi", body(EventRoomMessage, hi.OAuthID), 401},
		{"body names another installation", "JWT " + otherToken, body(EventRoomMessage, hi.OAuthID), 401},
		{"event not declared here", "JWT " + validToken, body(EventRoomTopicChange, hi.OAuthID), 400},
		{"malformed body", "JWT " + validToken, `{"event":`, 400},
		{"valid", "JWT " + validToken, body(EventRoomMessage, hi.OAuthID), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.base+"/webhook", strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, resp)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tt.status, got)
			}
			if tt.status == 401 && (resp.Header.Get("WWW-Authenticate") != "JWT" ||
				strings.Contains(strings.ToLower(got), "token")) {
				t.Errorf("401 with WWW-Authenticate %q and body %q", resp.Header.Get("WWW-Authenticate"), got)
			}
		})
	}
	for _, line := range f.log.all() {
		if strings.Contains(line, validToken) || strings.Contains(line, otherToken) {
			t.Errorf("a log line carries a token: %s", line)
		}
	}
}

func TestUnauthenticatedWebhooksNeedOptIn(t *testing.T) {
	none := func(d *CapabilitiesDescriptor) {
		d.Capabilities.Webhooks = []Webhook{{Event: EventRoomEnter, URL: d.Links.Self + "/../enter",
			Authentication: WebhookAuthNone}}
		d.Capabilities.Webhooks[0].URL = strings.TrimSuffix(d.Links.Self, "/capabilities.json") + "/enter"
	}
	d := testDescriptor("https://addon.example.com")
	none(d)
	_, err := Open(d, NewMemoryInstallationStore())
	var de *DescriptorError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "none") {
		t.Fatalf("Open with authentication none: %v, want a DescriptorError", err)
	}

	f := setup(t, none, AllowUnauthenticatedWebhooks(),
		OnWebhook(EventRoomEnter, func(ctx context.Context, a *HipChatAddon, inst *Installation, e *WebhookEvent) (*Notification, error) {
			return &Notification{Message: "welcome"}, nil
		}))
	hi := f.install(t, 42)
	resp, err := f.hc.SendWebhook(t.Context(), hi.OAuthID, EventRoomEnter, map[string]any{
		"room": map[string]any{"id": 42}, "sender": map[string]any{"id": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Errorf("unsigned webhook with opt-in: status %d", resp.StatusCode)
	}
}

func TestServedDescriptorSaysJWT(t *testing.T) {
	f := setup(t, nil)
	resp, err := http.Get(f.base + "/capabilities.json")
	if err != nil {
		t.Fatal(err)
	}
	var d CapabilitiesDescriptor
	if err := json.Unmarshal([]byte(readAll(t, resp)), &d); err != nil {
		t.Fatal(err)
	}
	for _, w := range d.Capabilities.Webhooks {
		if w.Authentication != WebhookAuthJWT {
			t.Errorf("webhook %s served with authentication %q", w.Event, w.Authentication)
		}
	}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
}

func TestGlanceQuery(t *testing.T) {
	f := setup(t, nil, OnGlanceQuery("status",
		func(ctx context.Context, a *HipChatAddon, inst *Installation, q *GlanceQuery) (*GlanceData, error) {
			return NewGlanceData(fmt.Sprintf("room %d user %s", q.RoomID, q.UserID)).WithLozenge("ok", "success"), nil
		}))
	hi := f.install(t, 42)
	resp, err := f.hc.QueryGlance(t.Context(), hi.OAuthID, "status", "7", 42)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "room 42 user 7") {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != f.hc.URL {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", got, f.hc.URL)
	}

	// Another origin may not read the answer.
	tok, _ := f.hc.Token(hi.OAuthID, "7", 42, 0)
	req, _ := http.NewRequest("GET", f.base+"/glance?signed_request="+tok, nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("evil origin: status %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	// Unsigned: 401.
	resp, err = http.Get(f.base + "/glance")
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != 401 {
		t.Errorf("unsigned glance query: status %d", resp.StatusCode)
	}

	// Preflight from HipChat's origin.
	req, _ = http.NewRequest("OPTIONS", f.base+"/glance", nil)
	req.Header.Set("Origin", f.hc.URL)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.Header.Get("Access-Control-Allow-Origin") != f.hc.URL {
		t.Errorf("preflight ACAO %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestPagesAndPageTokens(t *testing.T) {
	var f *fixture
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inst, _ := InstallationFromContext(r.Context())
		user, _ := UserIDFromContext(r.Context())
		room, _ := RoomIDFromContext(r.Context())
		tok, err := f.a.PageToken(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%s|%s|%d|%s", inst.OAuthID, user, room, tok)
	})
	f = setup(t, nil, ConfigurableHandler(page), PageHandler("dlg", page))
	hi := f.install(t, 42)

	for _, key := range []string{"configurable", "dlg"} {
		resp, err := f.hc.LoadPage(t.Context(), hi.OAuthID, key, "9", 42)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		parts := strings.Split(body, "|")
		if resp.StatusCode != 200 || len(parts) != 4 || parts[0] != hi.OAuthID || parts[1] != "9" || parts[2] != "42" {
			t.Fatalf("%s: status %d body %q", key, resp.StatusCode, body)
		}

		// The page's token opens the add-on's own endpoints.
		api := httptestServer(t, f.a.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, _ := UserIDFromContext(r.Context())
			fmt.Fprint(w, user)
		})))
		req, _ := http.NewRequest("GET", api+"/data", nil)
		req.Header.Set("Authorization", "JWT "+parts[3])
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 200 || got != "9" {
			t.Errorf("page token: status %d body %q", resp.StatusCode, got)
		}
	}

	resp, err := http.Get(f.base + "/configure")
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "JWT" {
		t.Errorf("unsigned page load: status %d", resp.StatusCode)
	}
}

func TestOpenReportsEveryProblem(t *testing.T) {
	d := testDescriptor("https://addon.example.com")
	d.Key = ""
	d.Capabilities.Glances[0].QueryURL = "https://addon.example.com/webhook" // taken by the webhooks
	noop := http.NotFoundHandler()
	_, err := Open(d, NewMemoryInstallationStore(),
		TrustedServers("ftp://hipchat.example.com"),
		OnWebhook(EventRoomArchived, nil),
		OnGlanceQuery("nope", nil),
		PageHandler("missing", noop),
		AdminPageHandler(noop))
	var de *DescriptorError
	if !errors.As(err, &de) {
		t.Fatalf("Open: %v, want a DescriptorError", err)
	}
	for _, want := range []string{"key", "trusted server", EventRoomArchived, `"nope"`,
		`"missing"`, "admin page", "already served"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}

	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "key") {
			t.Errorf("New did not panic with the problems: %v", r)
		}
	}()
	New(d, NewMemoryInstallationStore())
}

func TestOpenArguments(t *testing.T) {
	if _, err := Open(nil, NewMemoryInstallationStore()); err == nil {
		t.Error("nil descriptor accepted")
	}
	if _, err := Open(testDescriptor("https://a.example.com"), nil); err == nil {
		t.Error("nil store accepted")
	}
	a, err := Open(testDescriptor("https://a.example.com"), NewMemoryInstallationStore())
	if err != nil {
		t.Fatal(err)
	}
	d := a.Descriptor()
	d.Name = "changed"
	if a.Descriptor().Name == "changed" {
		t.Error("Descriptor() shares the add-on's descriptor")
	}
}
