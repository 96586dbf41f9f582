package addontest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hipchat-connect/addon/addontest"
)

// verify checks a JWT the fake signed for inst, as a careful add-on would,
// and returns its claims.
func verify(t *testing.T, inst *addontest.Installation, tok string, now time.Time) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) {
		return []byte(inst.OAuthSecret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return claims
}

func TestToken(t *testing.T) {
	clock := newFakeClock()
	hc := addontest.NewTestServer(t, addontest.WithClock(clock.Now))
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: 9})

	tok, err := hc.Token(inst.OAuthID, "42", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := verify(t, inst, tok, clock.Now())
	ctx, _ := c["context"].(map[string]any)
	if c["iss"] != inst.OAuthID || c["sub"] != "42" || c["jti"] == "" ||
		ctx["room_id"] != 9.0 || ctx["user_tz"] == nil {
		t.Errorf("claims %v", c)
	}
	exp, _ := c.GetExpirationTime()
	if !exp.Equal(clock.Now().Add(addontest.DefaultJWTLifetime)) {
		t.Errorf("exp %v", exp)
	}

	expired, _ := hc.Token(inst.OAuthID, "42", 0, -time.Minute)
	_, err = jwt.Parse(expired, func(*jwt.Token) (any, error) { return []byte(inst.OAuthSecret), nil },
		jwt.WithTimeFunc(clock.Now))
	if !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("negative ttl: %v, want an expired token", err)
	}
	if _, err := hc.Token("nobody", "1", 0, 0); !errors.Is(err, addontest.ErrUnknownInstallation) {
		t.Errorf("unknown client: %v", err)
	}
}

func TestLegacySubject(t *testing.T) {
	hc := addontest.NewTestServer(t, addontest.WithLegacySubject())
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	tok, _ := hc.Token(inst.OAuthID, "42", 0, 0)
	c := verify(t, inst, tok, time.Now())
	if c["prn"] != "42" || c["sub"] != nil {
		t.Errorf("claims %v, want prn and no sub", c)
	}
}

// jwtOf extracts the JWT of a request the add-on received, wherever it is.
func jwtOf(h hit) string {
	if q := h.Query.Get("signed_request"); q != "" {
		return q
	}
	v := strings.TrimPrefix(h.Header.Get("Authorization"), "JWT ")
	return strings.TrimPrefix(v, "token=")
}

func TestSendRoomMessage(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: 3})
	hc.SetRoom(3, "Three")
	hc.SetUser(addontest.User{ID: 8, MentionName: "bob", Name: "Bob"})

	from := addontest.User{ID: 7, MentionName: "ann", Name: "Ann"}
	resp, err := hc.SendRoomMessage(t.Context(), inst.OAuthID, 3, from, "/echo hi @bob")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	h := a.lastHit()
	if h.Path != "/webhook/echo" || !strings.HasPrefix(h.Header.Get("Authorization"), "JWT ") {
		t.Fatalf("webhook went to %s with %q", h.Path, h.Header.Get("Authorization"))
	}
	c := verify(t, inst, jwtOf(h), time.Now())
	if c["iss"] != inst.OAuthID || c["sub"] != "7" {
		t.Errorf("claims %v", c)
	}

	var p struct {
		Event         string `json:"event"`
		OAuthClientID string `json:"oauth_client_id"`
		WebhookID     int    `json:"webhook_id"`
		Item          struct {
			Message struct {
				ID, Date, Message, Type string
				From                    struct {
					ID          int
					MentionName string `json:"mention_name"`
				}
				Mentions []struct{ ID int }
			}
			Room struct {
				ID   int
				Name string
			}
		}
	}
	if err := json.Unmarshal(h.Body, &p); err != nil {
		t.Fatal(err)
	}
	m := p.Item.Message
	if p.Event != "room_message" || p.OAuthClientID != inst.OAuthID || p.WebhookID == 0 ||
		m.Message != "/echo hi @bob" || m.Type != "message" || m.ID == "" || m.Date == "" ||
		m.From.ID != 7 || m.From.MentionName != "ann" || len(m.Mentions) != 1 ||
		m.Mentions[0].ID != 8 || p.Item.Room.ID != 3 || p.Item.Room.Name != "Three" {
		t.Errorf("payload %s", h.Body)
	}
}

func TestWebhookPatternAndRouting(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: 3})
	from := addontest.User{ID: 1, MentionName: "a", Name: "A"}

	tests := []struct {
		text, wantPath string
	}{
		{"/echo yes", "/webhook/echo"},
		{"say /echo", "/webhook/all"},
	}
	for _, tt := range tests {
		resp, err := hc.SendRoomMessage(t.Context(), inst.OAuthID, 3, from, tt.text)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := a.lastHit().Path; got != tt.wantPath {
			t.Errorf("%q went to %s, want %s", tt.text, got, tt.wantPath)
		}
	}

	_, err := hc.SendRoomMessage(t.Context(), inst.OAuthID, 4, from, "/echo")
	if !errors.Is(err, addontest.ErrNoWebhook) {
		t.Errorf("message in another room: %v, want ErrNoWebhook", err)
	}
	_, err = hc.SendWebhook(t.Context(), inst.OAuthID, "room_exit", map[string]any{})
	if !errors.Is(err, addontest.ErrNoWebhook) {
		t.Errorf("undeclared event: %v, want ErrNoWebhook", err)
	}
}

func TestWebhookAuthenticationNone(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	item := map[string]any{"room": map[string]any{"id": 1}, "sender": map[string]any{"id": "5"}}
	resp, err := hc.SendWebhook(t.Context(), inst.OAuthID, "room_enter", item)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := a.lastHit()
	if h.Path != "/webhook/enter" || h.Header.Get("Authorization") != "" || h.Query.Has("signed_request") {
		t.Errorf("webhook without authentication arrived signed at %s", h.Path)
	}
}

func TestSignStyles(t *testing.T) {
	tests := []struct {
		name   string
		opts   []addontest.Option
		call   []addontest.CallOption
		header string
		query  bool
	}{
		{"default", nil, nil, "JWT ", false},
		{"server token=", []addontest.Option{addontest.WithWebhookSigning(addontest.SignHeaderTokenEquals)},
			nil, "JWT token=", false},
		{"call query", nil, []addontest.CallOption{addontest.SignedWith(addontest.SignQuery)}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := addontest.NewTestServer(t, tt.opts...)
			a := newTestAddon(t)
			inst := install(t, hc, a, addontest.InstallOptions{})
			resp, err := hc.SendRoomMessage(t.Context(), inst.OAuthID, 1,
				addontest.User{ID: 2}, "x", tt.call...)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := a.lastHit()
			auth := h.Header.Get("Authorization")
			if tt.header != "" && !strings.HasPrefix(auth, tt.header) ||
				tt.header == "" && auth != "" || h.Query.Has("signed_request") != tt.query {
				t.Fatalf("Authorization %q, query %v", auth, h.Query)
			}
			verify(t, inst, jwtOf(h), time.Now())
		})
	}
}

func TestUseJWT(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	from := addontest.User{ID: 2}

	resp, err := hc.SendRoomMessage(t.Context(), inst.OAuthID, 1, from, "x", addontest.UseJWT("forged"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := a.lastHit().Header.Get("Authorization"); got != "JWT forged" {
		t.Errorf("Authorization %q", got)
	}
	resp, err = hc.SendRoomMessage(t.Context(), inst.OAuthID, 1, from, "x", addontest.UseJWT(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := a.lastHit().Header.Get("Authorization"); got != "" {
		t.Errorf("unsigned webhook carried %q", got)
	}
}

func TestWebhookReplyBecomesNotification(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: 3})
	a.set(func(a *testAddon) { a.reply = `{"message":"pong","color":"purple"}` })

	resp, err := hc.SendRoomMessage(t.Context(), inst.OAuthID, 3, addontest.User{ID: 1}, "/echo ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "pong") {
		t.Errorf("response body %q not readable", body)
	}
	n, err := hc.WaitNotifications(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if n[0].Message != "pong" || n[0].Color != "purple" || n[0].RoomID != 3 || !n[0].FromWebhook {
		t.Errorf("notification %+v", n[0])
	}
}

func TestQueryGlanceAndLoadPage(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: 6})

	tests := []struct {
		name     string
		do       func() (*http.Response, error)
		wantPath string
	}{
		{"glance", func() (*http.Response, error) {
			return hc.QueryGlance(t.Context(), inst.OAuthID, "status", "11", 0)
		}, "/glance"},
		{"configurable", func() (*http.Response, error) {
			return hc.LoadPage(t.Context(), inst.OAuthID, "configurable", "11", 0)
		}, "/config"},
		{"relative dialog url", func() (*http.Response, error) {
			return hc.LoadPage(t.Context(), inst.OAuthID, "dlg", "11", 0)
		}, "/dialog"},
		{"signed get", func() (*http.Response, error) {
			return hc.SignedGet(t.Context(), inst.OAuthID, "/anything", "11", 0)
		}, "/anything"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.do()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := a.lastHit()
			if h.Path != tt.wantPath || h.Header.Get("Origin") != hc.URL {
				t.Fatalf("GET %s with Origin %q", h.Path, h.Header.Get("Origin"))
			}
			if tt.wantPath == "/dialog" && h.Query.Get("x") != "1" {
				t.Error("the page's own query was lost")
			}
			c := verify(t, inst, h.Query.Get("signed_request"), time.Now())
			if ctx, _ := c["context"].(map[string]any); c["sub"] != "11" || ctx["room_id"] != 6.0 {
				t.Errorf("claims %v", c)
			}
		})
	}

	_, err := hc.QueryGlance(t.Context(), inst.OAuthID, "other", "1", 0)
	if !errors.Is(err, addontest.ErrNoModule) {
		t.Errorf("glance without queryUrl: %v", err)
	}
	_, err = hc.LoadPage(t.Context(), inst.OAuthID, "adminPage", "1", 0)
	if !errors.Is(err, addontest.ErrNoModule) {
		t.Errorf("undeclared page: %v", err)
	}
}

func TestWebhookCallOptionsAndUserIDs(t *testing.T) {
	clock := newFakeClock()
	hc := addontest.NewTestServer(t, addontest.WithClock(clock.Now))
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})

	tests := []struct {
		name    string
		item    map[string]any
		opts    []addontest.CallOption
		subject string
		claim   string
	}{
		{"string sender", map[string]any{"sender": map[string]any{"id": "5"},
			"message": map[string]any{"message": "x"}}, nil, "5", "sub"},
		{"notification from a string", map[string]any{
			"message": map[string]any{"message": "x", "from": "CI bot"}}, nil, "", "sub"},
		{"legacy prn", map[string]any{"message": map[string]any{"message": "x",
			"from": map[string]any{"id": 3}}}, []addontest.CallOption{addontest.LegacySubject()},
			"3", "prn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := hc.SendWebhook(t.Context(), inst.OAuthID, "room_message", tt.item, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c := verify(t, inst, jwtOf(a.lastHit()), clock.Now())
			got, _ := c[tt.claim].(string)
			if got != tt.subject {
				t.Errorf("%s = %q, want %q (claims %v)", tt.claim, got, tt.subject, c)
			}
		})
	}

	resp, err := hc.SendWebhook(t.Context(), inst.OAuthID, "room_message",
		map[string]any{"message": map[string]any{"message": "x"}},
		addontest.JWTLifetime(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, err = jwt.Parse(jwtOf(a.lastHit()), func(*jwt.Token) (any, error) {
		return []byte(inst.OAuthSecret), nil
	}, jwt.WithTimeFunc(clock.Now))
	if !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("JWTLifetime(-1s): %v, want an expired token", err)
	}
}
