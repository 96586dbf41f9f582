package addon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hipchat-connect/addon/addontest"
)

func TestSendNotification(t *testing.T) {
	f := setup(t, nil)
	hi := f.install(t, 42)
	inst := f.stored(t, hi.OAuthID)

	n := &Notification{
		Message: "Build <b>42</b> passed", Color: ColorGreen, Notify: true, From: "CI",
		Card: &Card{Style: CardStyleLink, ID: "c1", Title: "Build 42", URL: "https://ci.example.com/42"},
	}
	if err := f.a.SendNotification(inst, n); err != nil {
		t.Fatal(err)
	}
	notes := f.hc.Notifications()
	if len(notes) != 1 {
		t.Fatalf("%d notifications recorded, want 1", len(notes))
	}
	got := notes[0]
	if got.RoomID != 42 || got.Message != n.Message || got.Color != "green" || !got.Notify ||
		got.From != "CI" || !strings.Contains(string(got.Card), `"style":"link"`) {
		t.Errorf("recorded %+v", got)
	}
}

func TestSendNotificationRefusesBeforeSending(t *testing.T) {
	f := setup(t, nil)
	room := f.stored(t, f.install(t, 42).OAuthID)
	global := f.stored(t, f.install(t, 0).OAuthID)
	before := len(f.hc.Requests())

	tests := []struct {
		name string
		err  error
		call func() error
	}{
		{"invalid notification", ErrInvalidNotification, func() error {
			return f.a.SendNotification(room, &Notification{Message: ""})
		}},
		{"invalid card", ErrInvalidNotification, func() error {
			return f.a.SendNotification(room, &Notification{Message: "m", Card: &Card{Style: "poster"}})
		}},
		{"nil notification", ErrInvalidNotification, func() error {
			return f.a.SendNotification(room, nil)
		}},
		{"global without room", ErrRoomRequired, func() error {
			return f.a.SendNotification(global, &Notification{Message: "m"})
		}},
		{"room install, other room", ErrWrongRoom, func() error {
			return f.a.SendRoomNotification(t.Context(), room, "43", &Notification{Message: "m"})
		}},
		{"unknown glance", ErrInvalidGlance, func() error {
			return f.a.UpdateGlanceData(room, "nope", NewGlanceData("x"))
		}},
		{"room glance, other room", ErrWrongRoom, func() error {
			return f.a.UpdateGlance(t.Context(), room, GlanceScope{RoomID: 1},
				GlanceUpdate{Key: "status", Content: *NewGlanceData("x")})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
		})
	}
	if after := len(f.hc.Requests()); after != before {
		t.Errorf("%d requests reached HipChat", after-before)
	}
}

func TestGlobalInstallationNamesTheRoom(t *testing.T) {
	f := setup(t, nil)
	inst := f.stored(t, f.install(t, 0).OAuthID)
	if err := f.a.SendRoomNotification(t.Context(), inst, "77", &Notification{Message: "hi"}); err != nil {
		t.Fatal(err)
	}
	if notes := f.hc.Notifications(); len(notes) != 1 || notes[0].RoomID != 77 {
		t.Errorf("notifications %+v", notes)
	}
}

func TestTokensAreCachedAndShared(t *testing.T) {
	f := setup(t, nil)
	hi := f.install(t, 42)
	inst := f.stored(t, hi.OAuthID)
	afterInstall := f.hc.TokenRequests(hi.OAuthID)

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := f.a.SendNotification(inst, &Notification{Message: "m"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.hc.TokenRequests(hi.OAuthID) - afterInstall; n != 0 {
		t.Errorf("%d token requests after install, want 0: the install's token is reused", n)
	}

	// With the cache empty, concurrent callers share one request.
	f.a.tokens.forget(hi.OAuthID)
	for range 20 {
		wg.Go(func() {
			if err := f.a.SendNotification(inst, &Notification{Message: "m"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.hc.TokenRequests(hi.OAuthID) - afterInstall; n != 1 {
		t.Errorf("%d token requests for 20 concurrent calls, want 1", n)
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	clock := newTestClock()
	hc := addontest.NewTestServer(t, addontest.WithClock(clock.Now),
		addontest.WithTokenLifetime(time.Hour))
	f := newFixture(t, hc, NewMemoryInstallationStore(), nil,
		Clock(clock.Now), TokenRenewal(time.Minute))
	hi := f.install(t, 1)
	inst := f.stored(t, hi.OAuthID)
	send := func() {
		t.Helper()
		if err := f.a.SendNotification(inst, &Notification{Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	base := hc.TokenRequests(hi.OAuthID)

	clock.Advance(58 * time.Minute)
	send()
	if n := hc.TokenRequests(hi.OAuthID) - base; n != 0 {
		t.Errorf("token renewed %d times two minutes before expiry, want 0", n)
	}
	clock.Advance(90 * time.Second)
	send()
	if n := hc.TokenRequests(hi.OAuthID) - base; n != 1 {
		t.Errorf("token renewed %d times 30s before expiry, want 1", n)
	}
}

func TestAPI401RenewsOnceAndRetries(t *testing.T) {
	f := setup(t, nil)
	hi := f.install(t, 42)
	inst := f.stored(t, hi.OAuthID)
	base := f.hc.TokenRequests(hi.OAuthID)

	f.hc.InjectFault(addontest.Fault{Path: addontest.RoomPath, Status: 401})
	if err := f.a.SendNotification(inst, &Notification{Message: "m"}); err != nil {
		t.Fatalf("after one 401: %v", err)
	}
	if n := f.hc.TokenRequests(hi.OAuthID) - base; n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}

	f.hc.InjectFault(addontest.Fault{Path: addontest.RoomPath, Status: 401, Times: 2})
	err := f.a.SendNotification(inst, &Notification{Message: "m"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Errorf("after two 401s: %v, want an APIError 401", err)
	}
}

func TestTokenEndpoint401ForgetsInstallation(t *testing.T) {
	gone := make(chan *Installation, 1)
	f := setup(t, nil, UninstalledCallback(func(a *HipChatAddon, inst *Installation) { gone <- inst }))
	hi := f.install(t, 42)
	inst := f.stored(t, hi.OAuthID)
	f.a.tokens.forget(hi.OAuthID)
	f.hc.Forget(hi.OAuthID)

	err := f.a.SendNotification(inst, &Notification{Message: "m"})
	if !errors.Is(err, ErrInstallationRevoked) {
		t.Fatalf("error %v, want ErrInstallationRevoked", err)
	}
	if got := waitFor(t, gone); got.OAuthID != hi.OAuthID {
		t.Errorf("UninstalledCallback got %s", got.OAuthID)
	}
	if _, err := f.store.Get(t.Context(), hi.OAuthID); !errors.Is(err, ErrInstallationNotFound) {
		t.Errorf("installation still stored: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).Truncate(time.Second)
	f := setup(t, nil)
	inst := f.stored(t, f.install(t, 42).OAuthID)

	f.hc.InjectFault(addontest.Fault{Path: addontest.RoomPath, Status: 429, RateLimitReset: reset})
	err := f.a.SendNotification(inst, &Notification{Message: "m"})
	var rl *RateLimitError
	if !errors.As(err, &rl) || !rl.Reset.Equal(reset) || rl.StatusCode != 429 {
		t.Fatalf("error %v, want a RateLimitError resetting at %v", err, reset)
	}
	if len(f.hc.Notifications()) != 0 {
		t.Error("a rate-limited notification was recorded")
	}
}

func TestRateLimitRetry(t *testing.T) {
	clock := newTestClock()
	var slept []time.Duration
	f := setup(t, nil, Clock(clock.Now), RetryRateLimited(2, time.Minute))
	f.a.cfg.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		clock.Advance(d)
		return ctx.Err()
	}
	inst := f.stored(t, f.install(t, 42).OAuthID)

	reset := clock.Now().Add(20 * time.Second)
	f.hc.InjectFault(addontest.Fault{Path: addontest.RoomPath, Status: 429, RateLimitReset: reset})
	if err := f.a.SendNotification(inst, &Notification{Message: "m"}); err != nil {
		t.Fatalf("retry after one 429: %v", err)
	}
	if len(slept) != 1 || slept[0] < 19*time.Second || slept[0] > 21*time.Second {
		t.Errorf("slept %v, want about 20s once", slept)
	}

	// More 429s than retries: the error comes back.
	slept = nil
	f.hc.InjectFault(addontest.Fault{Path: addontest.RoomPath, Status: 429, Times: 5,
		RateLimitReset: clock.Now().Add(time.Hour)})
	err := f.a.SendNotification(inst, &Notification{Message: "m"})
	var rl *RateLimitError
	if !errors.As(err, &rl) || len(slept) != 2 || slept[0] != time.Minute {
		t.Errorf("error %v after sleeping %v; want a RateLimitError after two waits of 1m", err, slept)
	}
}

func TestRateLimitRetryRespectsContext(t *testing.T) {
	f := setup(t, nil, RetryRateLimited(3, time.Hour))
	inst := f.stored(t, f.install(t, 42).OAuthID)
	f.hc.InjectFault(addontest.Fault{Path: addontest.RoomPath, Status: 429,
		RateLimitReset: time.Now().Add(time.Hour)})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := f.a.SendNotificationContext(ctx, inst, &Notification{Message: "m"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the context's deadline", err)
	}
}

func TestServerErrors(t *testing.T) {
	f := setup(t, nil)
	inst := f.stored(t, f.install(t, 42).OAuthID)
	f.hc.InjectFault(addontest.Fault{Path: addontest.RoomPath, Status: 503})
	err := f.a.SendNotification(inst, &Notification{Message: "m"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Errorf("error %v, want an APIError 503", err)
	}
	if strings.Contains(err.Error(), inst.OAuthSecret) {
		t.Error("error carries the secret")
	}
}

func TestUpdateGlance(t *testing.T) {
	f := setup(t, nil)
	room := f.stored(t, f.install(t, 42).OAuthID)
	global := f.stored(t, f.install(t, 0).OAuthID)
	data := NewGlanceData("3 open").WithLozenge("3", "current")

	calls := []struct {
		inst  *Installation
		scope GlanceScope
		want  addontest.GlanceUpdate
	}{
		{room, GlanceScope{}, addontest.GlanceUpdate{Scope: "room", RoomID: 42}},
		{room, GlanceScope{UserID: "5"}, addontest.GlanceUpdate{Scope: "room-user", RoomID: 42, UserID: "5"}},
		{global, GlanceScope{}, addontest.GlanceUpdate{Scope: "group"}},
		{global, GlanceScope{RoomID: 9}, addontest.GlanceUpdate{Scope: "room", RoomID: 9}},
		{global, GlanceScope{UserID: "6"}, addontest.GlanceUpdate{Scope: "user", UserID: "6"}},
	}
	for _, c := range calls {
		if err := f.a.UpdateGlance(t.Context(), c.inst, c.scope,
			GlanceUpdate{Key: "status", Content: *data}); err != nil {
			t.Fatalf("%+v: %v", c.scope, err)
		}
	}
	got := f.hc.GlanceUpdates()
	if len(got) != len(calls) {
		t.Fatalf("%d updates recorded, want %d", len(got), len(calls))
	}
	for i, c := range calls {
		g := got[i]
		if g.Scope != c.want.Scope || g.RoomID != c.want.RoomID || g.UserID != c.want.UserID {
			t.Errorf("update %d went to %s room %d user %q, want %+v", i, g.Scope, g.RoomID, g.UserID, c.want)
		}
		var content GlanceData
		if len(g.Glances) != 1 || g.Glances[0].Key != "status" ||
			json.Unmarshal(g.Glances[0].Content, &content) != nil || content.Label.Value != "3 open" {
			t.Errorf("update %d body %s", i, g.Body)
		}
	}

	// The README-era call updates the room of a room installation.
	if err := f.a.UpdateGlanceData(room, "status", data); err != nil {
		t.Fatal(err)
	}
	if g := f.hc.GlanceUpdates(); g[len(g)-1].Scope != "room" || g[len(g)-1].RoomID != 42 {
		t.Errorf("UpdateGlanceData went to %+v", g[len(g)-1])
	}
}

func TestMessagesAndRoomLookup(t *testing.T) {
	f := setup(t, nil)
	f.hc.SetRoom(42, "Ops")
	inst := f.stored(t, f.install(t, 0).OAuthID)
	ctx := t.Context()

	if err := f.a.SendRoomMessage(ctx, inst, "42", "deploying"); err != nil {
		t.Fatal(err)
	}
	if err := f.a.SendPrivateMessage(ctx, inst, "ann@example.com", &PrivateMessage{Message: "psst"}); err != nil {
		t.Fatal(err)
	}
	room, err := f.a.GetRoom(ctx, inst, "Ops")
	if err != nil {
		t.Fatal(err)
	}
	if room.ID != 42 || room.Name != "Ops" {
		t.Errorf("room %+v", room)
	}
	if m := f.hc.RoomMessages(); len(m) != 1 || m[0].Message != "deploying" {
		t.Errorf("room messages %+v", m)
	}
	if m := f.hc.PrivateMessages(); len(m) != 1 || m[0].User != "ann@example.com" {
		t.Errorf("private messages %+v", m)
	}
	var ae *APIError
	if _, err := f.a.GetRoom(ctx, inst, "Nowhere"); !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("unknown room: %v, want an APIError 404", err)
	}
}

func TestClientStaysOnHipChat(t *testing.T) {
	f := setup(t, nil)
	inst := f.stored(t, f.install(t, 42).OAuthID)
	spy, hits := spyServer(t, nil)
	c := f.a.Client(inst)
	if _, err := c.Get(spy.URL + "/steal"); !errors.Is(err, ErrUntrustedServer) {
		t.Errorf("error %v, want ErrUntrustedServer", err)
	}
	if hits.Load() != 0 {
		t.Error("the token left for another host")
	}
	resp, err := c.Get(inst.APIURL + "room/42")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("authenticated client got 401")
	}
}

func TestConcurrentLifecycle(t *testing.T) {
	// Installs, webhooks, notifications and uninstalls at once; run with
	// -race, this shows nothing a caller holds races with the library.
	var echoed atomic.Int32
	f := setup(t, nil, OnWebhook(EventRoomMessage,
		func(ctx context.Context, a *HipChatAddon, inst *Installation, e *WebhookEvent) (*Notification, error) {
			echoed.Add(1)
			inst.GroupName = "mutated by the handler" // a copy: harmless
			return nil, a.SendNotificationContext(ctx, inst, &Notification{Message: "seen"})
		}))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			room := 100 + i
			hi := f.install(t, room)
			for range 3 {
				resp, err := f.hc.SendRoomMessage(t.Context(), hi.OAuthID, room,
					addontest.User{ID: 1, Name: "Ann"}, "/test")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
			if i%2 == 0 {
				if err := f.hc.Uninstall(t.Context(), hi.OAuthID); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	all, _ := f.store.List(t.Context())
	if len(all) != 4 || echoed.Load() != 24 {
		t.Errorf("%d installations left (want 4), %d webhooks handled (want 24)", len(all), echoed.Load())
	}
}

func TestRevokedInstallationForgottenOnce(t *testing.T) {
	var asked, told atomic.Int32
	f := setup(t, nil,
		UninstallCallback(func(a *HipChatAddon, inst *Installation) error { asked.Add(1); return nil }),
		UninstalledCallback(func(a *HipChatAddon, inst *Installation) { told.Add(1) }))
	hi := f.install(t, 42)
	inst := f.stored(t, hi.OAuthID)
	f.a.tokens.forget(hi.OAuthID)
	f.hc.Forget(hi.OAuthID)

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := f.a.SendNotification(inst, &Notification{Message: "m"}); !errors.Is(err, ErrInstallationRevoked) {
				t.Errorf("error %v, want ErrInstallationRevoked", err)
			}
		})
	}
	wg.Wait()
	f.a.Close() // waits for callbacks
	if asked.Load() != 1 || told.Load() != 1 {
		t.Errorf("UninstallCallback ran %d times, UninstalledCallback %d; want once each",
			asked.Load(), told.Load())
	}
}
