package addontest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hipchat-connect/addon/addontest"
)

func TestWaitNotifications(t *testing.T) {
	hc, _, tok := apiFixture(t, 0)
	u := hc.APIURL() + "room/1/notification"

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for i := range 3 {
			call(t, http.MethodPost, u, tok, fmt.Sprintf(`{"message":"m%d"}`, i))
		}
	})
	n, err := hc.WaitNotifications(t.Context(), 3)
	if err != nil || len(n) < 3 {
		t.Fatalf("WaitNotifications: %d, %v", len(n), err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	n, err = hc.WaitNotifications(ctx, 4)
	if !errors.Is(err, context.DeadlineExceeded) || len(n) != 3 {
		t.Errorf("waiting for a 4th: %d, %v", len(n), err)
	}
}

func TestWaitGlanceUpdates(t *testing.T) {
	hc, _, tok := apiFixture(t, 0)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		call(t, http.MethodPost, hc.APIURL()+"addon/ui", tok,
			`{"glance":[{"key":"status","content":{"label":{"type":"html","value":"1"}}}]}`)
	})
	if g, err := hc.WaitGlanceUpdates(t.Context(), 1); err != nil || g[0].Scope != "group" {
		t.Fatalf("WaitGlanceUpdates: %+v, %v", g, err)
	}
}

// TestConcurrentUse exercises the fake from many goroutines; run it with
// -race.
func TestConcurrentUse(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	insts := make([]*addontest.Installation, 3)
	for i := range insts {
		insts[i] = install(t, hc, a, addontest.InstallOptions{RoomID: i + 1})
	}

	const perWorker = 5
	var wg sync.WaitGroup
	for i, inst := range insts {
		tok := mustToken(t, hc, inst, "send_notification")
		wg.Go(func() {
			u := fmt.Sprintf("%sroom/%d/notification", hc.APIURL(), i+1)
			for range perWorker {
				call(t, http.MethodPost, u, tok, `{"message":"x"}`)
				_ = hc.Notifications()
			}
		})
		wg.Go(func() {
			for range perWorker {
				resp, err := hc.SendRoomMessage(t.Context(), inst.OAuthID, i+1,
					addontest.User{ID: 1}, "/echo x")
				if err == nil {
					resp.Body.Close()
				}
				_ = hc.Requests()
			}
		})
	}
	wg.Go(func() {
		for range perWorker {
			hc.SetRoom(99, "r")
			hc.InjectFault(addontest.Fault{Path: "/nothing"})
			_ = hc.Installations()
		}
	})
	n, err := hc.WaitNotifications(t.Context(), len(insts)*perWorker)
	wg.Wait()
	if err != nil || len(n) != len(insts)*perWorker {
		t.Errorf("%d notifications, %v", len(n), err)
	}
	if _, hits := a.recorded(); len(hits) != len(insts)*perWorker {
		t.Errorf("the add-on received %d webhooks, want %d", len(hits), len(insts)*perWorker)
	}
}
