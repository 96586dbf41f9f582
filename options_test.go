package addon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// countingDoer is an HttpDoer that is not an *http.Client.
type countingDoer struct{ n atomic.Int32 }

func (d *countingDoer) Do(req *http.Request) (*http.Response, error) {
	d.n.Add(1)
	return http.DefaultTransport.RoundTrip(req)
}

func TestHttpClientCarriesEveryRequest(t *testing.T) {
	doer := &countingDoer{}
	f := setup(t, nil, HttpClient(doer))
	inst := f.stored(t, f.install(t, 42).OAuthID)
	if err := f.a.SendNotification(inst, &Notification{Message: "m"}); err != nil {
		t.Fatal(err)
	}
	// Capabilities document, token request, notification.
	if n := doer.n.Load(); n != 3 {
		t.Errorf("the HttpDoer sent %d requests, want 3", n)
	}
}

func TestAllowedOrigins(t *testing.T) {
	f := setup(t, nil, AllowedOrigins("https://chat.example.com"),
		OnGlanceQuery("status", func(ctx context.Context, a *HipChatAddon, inst *Installation, q *GlanceQuery) (*GlanceData, error) {
			return NewGlanceData("ok"), nil
		}))
	hi := f.install(t, 42)
	tok, err := f.hc.Token(hi.OAuthID, "1", 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	for origin, allowed := range map[string]bool{
		"https://chat.example.com": true,
		f.hc.URL:                   true,
		"https://other.example":    false,
	} {
		req, _ := http.NewRequest("GET", f.base+"/glance?signed_request="+tok, nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("origin %s: allowed %v, want %v", origin, got, allowed)
		}
	}
}

func TestJwtAuthHandlerFuncAndTokenOptions(t *testing.T) {
	clock := newTestClock()
	f := setup(t, nil, Clock(clock.Now), ClockSkew(5*time.Second), MaxTokenSize(2048),
		PageTokenLifetime(time.Minute))
	hi := f.install(t, 42)
	inst := f.stored(t, hi.OAuthID)
	h := f.a.JwtAuthHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	call := func(token string) int {
		req, _ := http.NewRequest("GET", "/x", nil)
		req.Header.Set("Authorization", "JWT "+token)
		rec := httptest.NewRecorder()
		h(rec, req)
		return rec.Code
	}

	page, err := f.a.PageToken(newAuthContext(t.Context(), inst, &Claims{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := call(page); got != http.StatusNoContent {
		t.Errorf("fresh page token: %d", got)
	}
	clock.Advance(time.Minute + 4*time.Second) // expired, but within the skew
	if got := call(page); got != http.StatusNoContent {
		t.Errorf("page token within the clock skew: %d", got)
	}
	clock.Advance(2 * time.Second)
	if got := call(page); got != http.StatusUnauthorized {
		t.Errorf("expired page token: %d", got)
	}

	big := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": inst.OAuthID, "exp": clock.Now().Add(time.Minute).Unix(), "pad": strings.Repeat("x", 2048),
	})
	signed, _ := big.SignedString([]byte(inst.OAuthSecret))
	if got := call(signed); got != http.StatusUnauthorized {
		t.Errorf("token over MaxTokenSize: %d", got)
	}

	if _, err := f.a.PageToken(t.Context()); err == nil {
		t.Error("PageToken without a verified request succeeded")
	}
}
