package addontest_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hipchat-connect/addon/addontest"
)

func TestTokenEndpoint(t *testing.T) {
	hc := addontest.NewTestServer(t, addontest.WithGroup(77, "Acme"))
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	gone := install(t, hc, a, addontest.InstallOptions{})
	hc.Forget(gone.OAuthID)

	tests := []struct {
		name       string
		id, secret string
		body       string
		json       bool
		wantStatus int
		wantScope  string
	}{
		{"form", inst.OAuthID, inst.OAuthSecret,
			"grant_type=client_credentials&scope=send_notification+view_room", false, 200,
			"send_notification view_room"},
		{"json", inst.OAuthID, inst.OAuthSecret,
			`{"grant_type":"client_credentials","scope":"send_message"}`, true, 200, "send_message"},
		{"no scope gets all", inst.OAuthID, inst.OAuthSecret,
			"grant_type=client_credentials", false, 200, "send_notification send_message view_room"},
		{"bad secret", inst.OAuthID, "wrong", "grant_type=client_credentials", false, 401, ""},
		{"no credentials", "", "", "grant_type=client_credentials", false, 401, ""},
		{"forgotten", gone.OAuthID, gone.OAuthSecret, "grant_type=client_credentials", false, 401, ""},
		{"bad scope", inst.OAuthID, inst.OAuthSecret,
			"grant_type=client_credentials&scope=admin_group", false, 400, ""},
		{"bad grant", inst.OAuthID, inst.OAuthSecret, "grant_type=password", false, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, hc.TokenURL(),
				strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.json {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.id != "" {
				req.SetBasicAuth(tt.id, tt.secret)
			}
			var raw map[string]json.RawMessage
			status, _ := doJSONStatus(t, req, &raw)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d", status, tt.wantStatus)
			}
			if status != http.StatusOK {
				if _, ok := raw["error"]; !ok {
					t.Errorf("error answer without an error member: %v", raw)
				}
				return
			}
			var tr tokenResponse
			b, _ := json.Marshal(raw)
			_ = json.Unmarshal(b, &tr)
			if tr.AccessToken == "" || tr.TokenType != "bearer" || tr.ExpiresIn != 3600 ||
				tr.Scope != tt.wantScope || tr.GroupID != 77 || tr.GroupName != "Acme" {
				t.Errorf("token response %+v", tr)
			}
		})
	}
	if n := hc.TokenRequests(inst.OAuthID); n != 6 {
		t.Errorf("TokenRequests = %d, want 6", n)
	}
}

func TestTokenLifetimeAndClock(t *testing.T) {
	clock := newFakeClock()
	hc := addontest.NewTestServer(t, addontest.WithClock(clock.Now),
		addontest.WithTokenLifetime(10*time.Minute))
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})

	status, tr := requestToken(t, hc, inst.OAuthID, inst.OAuthSecret, "view_room")
	if status != 200 || tr.ExpiresIn != 600 {
		t.Fatalf("status %d, expires_in %d, want 600", status, tr.ExpiresIn)
	}
	u := hc.APIURL() + "room/1"
	hc.SetRoom(1, "Lobby")

	clock.Advance(10*time.Minute - time.Second)
	if s, _, _ := call(t, http.MethodGet, u, tr.AccessToken, ""); s != http.StatusOK {
		t.Errorf("before expiry: status %d", s)
	}
	clock.Advance(time.Second)
	if s, _, _ := call(t, http.MethodGet, u, tr.AccessToken, ""); s != http.StatusUnauthorized {
		t.Errorf("at expiry: status %d, want 401", s)
	}
}

func TestAPIAuth(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	notifyTok := mustToken(t, hc, inst, "send_notification")
	viewTok := mustToken(t, hc, inst, "view_room")
	revoked := install(t, hc, a, addontest.InstallOptions{})
	revokedTok := mustToken(t, hc, revoked, "send_notification")
	hc.Forget(revoked.OAuthID)

	notify := hc.APIURL() + "room/1/notification"
	body := `{"message":"hi"}`
	tests := []struct {
		name       string
		url, token string
		want       int
	}{
		{"good", notify, notifyTok, 204},
		{"missing", notify, "", 401},
		{"unknown", notify, "nonsense", 401},
		{"revoked", notify, revokedTok, 401},
		{"missing scope", notify, viewTok, 403},
		{"auth_token query", notify + "?auth_token=" + notifyTok, "", 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, _ := call(t, http.MethodPost, tt.url, tt.token, body)
			if status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
			if status == 204 && h.Get("X-Ratelimit-Limit") != "500" {
				t.Errorf("X-Ratelimit-Limit %q", h.Get("X-Ratelimit-Limit"))
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	clock := newFakeClock()
	hc := addontest.NewTestServer(t, addontest.WithClock(clock.Now), addontest.WithRateLimit(2))
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	tok := mustToken(t, hc, inst, "send_notification")
	u := hc.APIURL() + "room/1/notification"
	reset := strconv.FormatInt(clock.Now().Add(addontest.RateLimitWindow).Unix(), 10)

	for i, want := range []struct {
		status    int
		remaining string
	}{{204, "1"}, {204, "0"}, {429, "0"}} {
		status, h, _ := call(t, http.MethodPost, u, tok, `{"message":"hi"}`)
		if status != want.status || h.Get("X-Ratelimit-Remaining") != want.remaining ||
			h.Get("X-Ratelimit-Reset") != reset || h.Get("X-Ratelimit-Limit") != "2" {
			t.Errorf("request %d: status %d, headers %v", i, status, h)
		}
	}

	clock.Advance(addontest.RateLimitWindow)
	if status, _, _ := call(t, http.MethodPost, u, tok, `{"message":"hi"}`); status != 204 {
		t.Errorf("after the window: status %d, want 204", status)
	}
	if n := len(hc.Notifications()); n != 3 {
		t.Errorf("%d notifications recorded, want 3", n)
	}
}
