package addon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hipchat-connect/addon/addontest"
)

func TestInstallStoresProvenInstallation(t *testing.T) {
	installed := make(chan *Installation, 1)
	f := setup(t, nil, InstalledCallback(func(a *HipChatAddon, inst *Installation) {
		installed <- inst
	}))
	hi := f.install(t, 42)

	got := f.stored(t, hi.OAuthID)
	if got.OAuthSecret != hi.OAuthSecret || got.RoomID != 42 || got.GroupID != hi.GroupID {
		t.Errorf("stored %+v, want the fake's %+v", got, hi)
	}
	if got.TokenURL != f.hc.TokenURL() || got.APIURL != f.hc.APIURL() {
		t.Errorf("token URL %q, API URL %q; want %q, %q", got.TokenURL, got.APIURL,
			f.hc.TokenURL(), f.hc.APIURL())
	}
	if got.GroupName != addontest.DefaultGroupName || got.InstalledAt.IsZero() {
		t.Errorf("group name %q, installed at %v", got.GroupName, got.InstalledAt)
	}
	if cb := waitFor(t, installed); cb.OAuthID != hi.OAuthID {
		t.Errorf("InstalledCallback got %s, want %s", cb.OAuthID, hi.OAuthID)
	}
}

func TestInstalledCallbackCanNotify(t *testing.T) {
	// The README's quick start: greet the room once installed.
	f := setup(t, nil, InstalledCallback(func(a *HipChatAddon, inst *Installation) {
		if err := a.SendNotification(inst, &Notification{Message: "Installed!"}); err != nil {
			t.Error(err)
		}
	}))
	f.install(t, 7)
	notes, err := f.hc.WaitNotifications(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if notes[0].Message != "Installed!" || notes[0].RoomID != 7 {
		t.Errorf("notification %+v", notes[0])
	}
}

func TestInstallGlobal(t *testing.T) {
	f := setup(t, nil)
	hi := f.install(t, 0)
	if got := f.stored(t, hi.OAuthID); !got.IsGlobal() {
		t.Errorf("stored %v, want a global installation", got)
	}
}

// forgedInstall posts an install body to the add-on's callback URL the way
// anyone on the network could.
func (f *fixture) forgedInstall(t *testing.T, body map[string]any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(f.base+"/installable", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// spyServer is a host the add-on must never contact.
func spyServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func capabilitiesDoc(self, tokenURL, apiURL string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{
			"links": map[string]string{"self": self, "api": apiURL},
			"capabilities": map[string]any{
				"oauth2Provider":     map[string]string{"tokenUrl": tokenURL},
				"hipchatApiProvider": map[string]string{"url": apiURL},
			},
		}
		json.NewEncoder(w).Encode(doc)
	}
}

func TestInstallDefences(t *testing.T) {
	// A second "HipChat" the operator trusts, whose capabilities document
	// is served by handler, and a host nobody trusts.
	evil, evilHits := spyServer(t, capabilitiesDoc("x", "x", "x"))
	var trustedHandler atomic.Pointer[http.HandlerFunc]
	other, _ := spyServer(t, func(w http.ResponseWriter, r *http.Request) {
		(*trustedHandler.Load())(w, r)
	})

	hc := addontest.NewTestServer(t)
	f := newFixture(t, hc, NewMemoryInstallationStore(), func(d *CapabilitiesDescriptor) {
		d.Capabilities.Installable.AllowGlobal = Bool(false)
	}, TrustedServers(hc.URL, other.URL))
	known := f.install(t, 5)

	valid := func() map[string]any {
		return map[string]any{
			"oauthId": "new-client", "oauthSecret": "s3cret",
			"capabilitiesUrl": hc.CapabilitiesURL(), "groupId": hc.GroupID(), "roomId": 5,
		}
	}
	tests := []struct {
		name    string
		edit    func(map[string]any)
		serve   http.HandlerFunc // what the second trusted server answers
		status  int
		checkID string // an oauthId whose stored secret must not change
	}{
		{name: "malformed", status: 400, edit: func(m map[string]any) { m["groupId"] = "not a number" }},
		{name: "missing secret", status: 400, edit: func(m map[string]any) { delete(m, "oauthSecret") }},
		{name: "global not allowed", status: 403, edit: func(m map[string]any) { m["roomId"] = nil }},
		{name: "untrusted capabilities host", status: 403, edit: func(m map[string]any) {
			m["capabilitiesUrl"] = evil.URL + "/v2/capabilities"
		}},
		{name: "trusted host, other scheme", status: 403, edit: func(m map[string]any) {
			m["capabilitiesUrl"] = strings.Replace(hc.CapabilitiesURL(), "http:", "https:", 1)
		}},
		{name: "links.self mismatch", status: 403,
			edit:  func(m map[string]any) { m["capabilitiesUrl"] = other.URL + "/v2/capabilities" },
			serve: capabilitiesDoc(hc.CapabilitiesURL(), hc.TokenURL(), hc.APIURL())},
		{name: "untrusted token URL", status: 403,
			edit: func(m map[string]any) { m["capabilitiesUrl"] = other.URL + "/v2/capabilities" },
			serve: capabilitiesDoc(other.URL+"/v2/capabilities", evil.URL+"/v2/oauth/token",
				other.URL+"/v2/")},
		{name: "untrusted API URL", status: 403,
			edit: func(m map[string]any) { m["capabilitiesUrl"] = other.URL + "/v2/capabilities" },
			serve: capabilitiesDoc(other.URL+"/v2/capabilities", hc.TokenURL(),
				evil.URL+"/v2/")},
		{name: "unknown credentials", status: 403},
		{name: "takeover with new secret", status: 403, checkID: known.OAuthID,
			edit: func(m map[string]any) { m["oauthId"] = known.OAuthID }},
		{name: "known id moved to other group", status: 409, checkID: known.OAuthID,
			edit: func(m map[string]any) {
				m["oauthId"], m["oauthSecret"] = known.OAuthID, known.OAuthSecret
				m["groupId"] = hc.GroupID() + 1
			}},
		{name: "known id moved to other server", status: 409, checkID: known.OAuthID,
			edit: func(m map[string]any) {
				m["oauthId"], m["oauthSecret"] = known.OAuthID, known.OAuthSecret
				m["capabilitiesUrl"] = other.URL + "/v2/capabilities"
			},
			serve: capabilitiesDoc(other.URL+"/v2/capabilities", hc.TokenURL(), hc.APIURL())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serve := tt.serve
			if serve == nil {
				serve = func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
			}
			trustedHandler.Store(&serve)
			body := valid()
			if tt.edit != nil {
				tt.edit(body)
			}
			resp := f.forgedInstall(t, body)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if id, _ := body["oauthId"].(string); id != "" && id != known.OAuthID {
				if _, err := f.store.Get(t.Context(), id); !errors.Is(err, ErrInstallationNotFound) {
					t.Errorf("refused installation %s was stored (err %v)", id, err)
				}
			}
			if tt.checkID != "" && f.stored(t, tt.checkID).OAuthSecret != known.OAuthSecret {
				t.Errorf("known installation's secret changed")
			}
			if n := evilHits.Load(); n != 0 {
				t.Errorf("the untrusted host got %d requests", n)
			}
		})
	}
}

func TestInstallRejectsTokenForOtherGroup(t *testing.T) {
	// HipChat's token names the group the credentials belong to; an install
	// that names another group is refused.
	hc := addontest.NewTestServer(t)
	f := newFixture(t, hc, NewMemoryInstallationStore(), nil)
	real := f.install(t, 3)
	if err := f.a.store.Delete(t.Context(), real.OAuthID); err != nil {
		t.Fatal(err)
	}
	resp := f.forgedInstall(t, map[string]any{
		"oauthId": real.OAuthID, "oauthSecret": real.OAuthSecret,
		"capabilitiesUrl": hc.CapabilitiesURL(), "groupId": hc.GroupID() + 10, "roomId": 3,
	})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
}

func TestInstallBodyLimits(t *testing.T) {
	f := setup(t, nil, MaxBodySize(1024))
	big := strings.Repeat("x", 4096)
	resp, err := http.Post(f.base+"/installable", "application/json",
		strings.NewReader(`{"oauthId":"`+big+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", resp.StatusCode)
	}

	req, _ := http.NewRequest(http.MethodPut, f.base+"/installable", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("PUT: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestInstallCallbackRefuses(t *testing.T) {
	f := setup(t, nil, InstallCallback(func(a *HipChatAddon, inst *Installation) error {
		return errors.New("not in this room")
	}))
	_, err := f.hc.Install(t.Context(), f.base+"/capabilities.json", addontest.InstallOptions{RoomID: 9})
	var ie *addontest.InstallError
	if !errors.As(err, &ie) || ie.StatusCode != http.StatusForbidden {
		t.Fatalf("install error %v, want a 403 refusal", err)
	}
	if all, _ := f.store.List(t.Context()); len(all) != 0 {
		t.Errorf("store holds %d installations, want none", len(all))
	}
}

func TestUpdateKeepsInstalledAt(t *testing.T) {
	clock := newTestClock()
	updated := make(chan *Installation, 1)
	f := setup(t, nil, Clock(clock.Now), UpdatedCallback(func(a *HipChatAddon, inst *Installation) {
		updated <- inst
	}))
	hi := f.install(t, 4)
	first := f.stored(t, hi.OAuthID)

	clock.Advance(3600e9)
	if err := f.hc.Update(t.Context(), hi.OAuthID); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, updated)
	if !got.InstalledAt.Equal(first.InstalledAt) || !got.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("after update: installed %v updated %v; first %v", got.InstalledAt,
			got.UpdatedAt, first.InstalledAt)
	}
}

func TestClientSideInstall(t *testing.T) {
	f := setup(t, nil)
	hi, err := f.hc.Install(t.Context(), f.base+"/capabilities.json",
		addontest.InstallOptions{RoomID: 12, ClientSide: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.stored(t, hi.OAuthID); got.RoomID != 12 {
		t.Errorf("stored room %d, want 12", got.RoomID)
	}
	if err := f.hc.UpdateClientSide(t.Context(), hi.OAuthID); err != nil {
		t.Errorf("client-side update: %v", err)
	}
}

func TestClientSideInstallDefences(t *testing.T) {
	evil, evilHits := spyServer(t, nil)
	f := setup(t, nil)
	for name, q := range map[string]url.Values{
		"no installable_url":        {},
		"untrusted installable_url": {"installable_url": {evil.URL + "/x"}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := http.Get(f.base + "/installed?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 && resp.StatusCode != 403 {
				t.Errorf("status %d, want 400 or 403", resp.StatusCode)
			}
		})
	}
	if evilHits.Load() != 0 {
		t.Errorf("the untrusted host was contacted")
	}
}

func TestRedirectOnlyToTrustedHosts(t *testing.T) {
	f := setup(t, nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/installed", nil)
	f.a.redirectBack(rec, req, "https://evil.example/phish", "installed")
	if rec.Code != http.StatusOK || rec.Header().Get("Location") != "" {
		t.Errorf("untrusted redirect: status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	f.a.redirectBack(rec, req, f.hc.URL+"/addons/installed", "installed")
	if rec.Code != http.StatusFound {
		t.Errorf("trusted redirect: status %d", rec.Code)
	}
}

func TestUninstall(t *testing.T) {
	gone := make(chan *Installation, 1)
	f := setup(t, nil, UninstalledCallback(func(a *HipChatAddon, inst *Installation) {
		gone <- inst
	}))
	hi := f.install(t, 8)
	if err := f.hc.Uninstall(t.Context(), hi.OAuthID); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(t, gone); got.OAuthID != hi.OAuthID {
		t.Errorf("UninstalledCallback got %s", got.OAuthID)
	}
	if _, err := f.store.Get(t.Context(), hi.OAuthID); !errors.Is(err, ErrInstallationNotFound) {
		t.Errorf("installation still stored: %v", err)
	}
}

func TestClientSideUninstall(t *testing.T) {
	f := setup(t, nil)
	hi := f.install(t, 8)
	if err := f.hc.UninstallClientSide(t.Context(), hi.OAuthID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Get(t.Context(), hi.OAuthID); !errors.Is(err, ErrInstallationNotFound) {
		t.Errorf("installation still stored: %v", err)
	}
}

func deleteReq(t *testing.T, u string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestForgedUninstallIsRefused(t *testing.T) {
	f := setup(t, nil)
	hi := f.install(t, 8)

	// HipChat still knows the installation: the DELETE did not come from it.
	if got := deleteReq(t, f.base+"/installable/"+hi.OAuthID); got != http.StatusForbidden {
		t.Errorf("forged DELETE: status %d, want 403", got)
	}
	f.stored(t, hi.OAuthID)

	if got := deleteReq(t, f.base+"/installable/unknown"); got != http.StatusNotFound {
		t.Errorf("DELETE of unknown: status %d, want 404", got)
	}
}

func TestUninstallUnconfirmedWhenHipChatFails(t *testing.T) {
	f := setup(t, nil)
	hi := f.install(t, 8)
	f.hc.InjectFault(addontest.Fault{Path: addontest.TokenPath, Status: 503})
	if got := deleteReq(t, f.base+"/installable/"+hi.OAuthID); got != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", got)
	}
	f.stored(t, hi.OAuthID)
}

func TestUninstallCallbackKeeps(t *testing.T) {
	var called atomic.Bool
	f := setup(t, nil,
		UninstallCallback(func(a *HipChatAddon, inst *Installation) error {
			return errors.New("keep the data for now")
		}),
		UninstalledCallback(func(a *HipChatAddon, inst *Installation) { called.Store(true) }))
	hi := f.install(t, 8)
	err := f.hc.Uninstall(t.Context(), hi.OAuthID)
	var ie *addontest.InstallError
	if !errors.As(err, &ie) || ie.StatusCode != http.StatusConflict {
		t.Errorf("uninstall error %v, want a 409", err)
	}
	f.stored(t, hi.OAuthID)
	f.a.Close() // waits for callbacks
	if called.Load() {
		t.Error("UninstalledCallback ran for a kept installation")
	}
}
