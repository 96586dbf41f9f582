package addontest_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hipchat-connect/addon/addontest"
)

func TestFaultTokenOnce401(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	hc.InjectFault(addontest.Fault{Path: addontest.TokenPath, Status: http.StatusUnauthorized})

	want := []int{401, 200, 200}
	for i, w := range want {
		if s, _ := requestToken(t, hc, inst.OAuthID, inst.OAuthSecret, ""); s != w {
			t.Errorf("request %d: status %d, want %d", i, s, w)
		}
	}
	if n := hc.TokenRequests(inst.OAuthID); n != 3 {
		t.Errorf("TokenRequests = %d, want 3 (faults count)", n)
	}
}

func TestFault429WithResetHeaders(t *testing.T) {
	hc, _, tok := apiFixture(t, 0)
	reset := time.Unix(1700000000, 0)
	hc.InjectFault(addontest.Fault{Path: addontest.RoomPath, Status: 429, RateLimitReset: reset})

	status, h, _ := call(t, http.MethodPost, hc.APIURL()+"room/1/notification", tok, `{"message":"a"}`)
	if status != 429 || h.Get("X-Ratelimit-Reset") != strconv.FormatInt(reset.Unix(), 10) ||
		h.Get("X-Ratelimit-Remaining") != "0" || h.Get("X-Ratelimit-Limit") == "" {
		t.Errorf("status %d, headers %v", status, h)
	}
	if n := len(hc.Notifications()); n != 0 {
		t.Errorf("a faulted request was served: %d notifications", n)
	}
}

func TestFaultTimesMethodAndClear(t *testing.T) {
	hc, _, tok := apiFixture(t, 0)
	u := hc.APIURL() + "room/1/notification"
	hc.InjectFault(addontest.Fault{Path: addontest.APIPath, Method: http.MethodPost, Status: 503,
		Times: 2, Body: `{"oops":true}`})

	if s, _, _ := call(t, http.MethodGet, hc.CapabilitiesURL(), "", ""); s != 200 {
		t.Errorf("GET matched a POST fault: status %d", s)
	}
	for i, want := range []int{503, 503, 204} {
		s, _, body := call(t, http.MethodPost, u, tok, `{"message":"a"}`)
		if s != want {
			t.Errorf("request %d: status %d, want %d", i, s, want)
		}
		if s == 503 && string(body) != `{"oops":true}` {
			t.Errorf("fault body %q", body)
		}
	}

	hc.InjectFault(addontest.Fault{Status: 500, Times: -1})
	for range 3 {
		if s, _, _ := call(t, http.MethodGet, hc.CapabilitiesURL(), "", ""); s != 500 {
			t.Errorf("unlimited fault: status %d", s)
		}
	}
	hc.ClearFaults()
	if s, _, _ := call(t, http.MethodGet, hc.CapabilitiesURL(), "", ""); s != 200 {
		t.Errorf("after ClearFaults: status %d", s)
	}

	var faulted int
	for _, r := range hc.Requests() {
		if r.Status >= 500 {
			faulted++
		}
	}
	if faulted != 5 {
		t.Errorf("%d faulted requests recorded, want 5", faulted)
	}
}

func TestFaultLatencyRespectsContext(t *testing.T) {
	hc := addontest.NewTestServer(t)
	hc.InjectFault(addontest.Fault{Path: addontest.CapabilitiesPath, Latency: time.Minute})

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hc.CapabilitiesURL(), nil)
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline", err)
	}
	if s, _, _ := call(t, http.MethodGet, hc.CapabilitiesURL(), "", ""); s != 200 {
		t.Errorf("after the slow request: status %d", s)
	}
}

func TestFaultLatencyThenServe(t *testing.T) {
	hc := addontest.NewTestServer(t)
	hc.InjectFault(addontest.Fault{Path: addontest.CapabilitiesPath, Latency: time.Millisecond})
	if s, _, _ := call(t, http.MethodGet, hc.CapabilitiesURL(), "", ""); s != 200 {
		t.Errorf("latency-only fault: status %d, want the real answer", s)
	}
}

func TestCloseInterruptsLatency(t *testing.T) {
	hc := addontest.NewServer()
	hc.InjectFault(addontest.Fault{Latency: time.Hour})
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(hc.CapabilitiesURL())
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Wait until the request is inside the fake, holding the fault.
	for hc.FaultsPending() != 0 {
		time.Sleep(time.Millisecond)
	}
	hc.Close()
	hc.Close()
	if err := <-done; err == nil {
		// The interrupted request is answered with an error status.
		if n := len(hc.Requests()); n != 1 || hc.Requests()[0].Status != 503 {
			t.Errorf("requests %+v", hc.Requests())
		}
	}
}
