package addontest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hipchat-connect/addon/addontest"
)

func TestInstallServerSide(t *testing.T) {
	tests := []struct {
		name   string
		roomID int
	}{
		{"global", 0},
		{"room", 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := addontest.NewTestServer(t, addontest.WithGroup(9, "Nine"))
			a := newTestAddon(t)
			inst := install(t, hc, a, addontest.InstallOptions{RoomID: tt.roomID})

			creds, _ := a.recorded()
			if len(creds) != 1 {
				t.Fatalf("%d install POSTs, want 1", len(creds))
			}
			c := creds[0]
			if c.OAuthID != inst.OAuthID || c.OAuthSecret != inst.OAuthSecret ||
				c.OAuthID == "" || c.OAuthSecret == "" {
				t.Errorf("credentials %+v do not match installation", c)
			}
			if c.CapabilitiesURL != hc.CapabilitiesURL() || c.GroupID != 9 {
				t.Errorf("capabilitiesUrl %q, groupId %d", c.CapabilitiesURL, c.GroupID)
			}
			if tt.roomID == 0 && c.RoomID != nil {
				t.Errorf("global install sent roomId %d", *c.RoomID)
			}
			if tt.roomID != 0 && (c.RoomID == nil || *c.RoomID != tt.roomID) {
				t.Errorf("room install sent roomId %v, want %d", c.RoomID, tt.roomID)
			}
			if inst.Key != "test-addon" || inst.RoomID != tt.roomID || inst.GroupName != "Nine" {
				t.Errorf("installation %+v", inst)
			}
		})
	}
}

func TestInstallCanFetchTokenBeforeAnswering(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	status := make(chan int, 1)
	a.set(func(a *testAddon) {
		a.onInstall = func(c credentials) {
			s, _ := requestToken(t, hc, c.OAuthID, c.OAuthSecret, "send_notification")
			status <- s
		}
	})
	install(t, hc, a, addontest.InstallOptions{})
	if s := <-status; s != http.StatusOK {
		t.Errorf("token request during install: status %d", s)
	}
}

func TestInstallClientSide(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: 5, ClientSide: true})

	creds, hits := a.recorded()
	if len(creds) != 1 || creds[0].OAuthID != inst.OAuthID || creds[0].OAuthSecret != inst.OAuthSecret {
		t.Fatalf("installable_url gave %+v", creds)
	}
	if creds[0].RoomID == nil || *creds[0].RoomID != 5 {
		t.Errorf("roomId %v, want 5", creds[0].RoomID)
	}

	// The installable URL works only once.
	u := hits[0].Query.Get("installable_url")
	if status, _, _ := call(t, http.MethodGet, u, "", ""); status != http.StatusNotFound {
		t.Errorf("second fetch of installable_url: status %d, want 404", status)
	}
}

func TestInstallClientSideMisbehaviour(t *testing.T) {
	tests := []struct {
		name  string
		setup func(a *testAddon)
	}{
		{"no fetch", func(a *testAddon) { a.skipFetch = true }},
		{"wrong redirect", func(a *testAddon) { a.redirectTo = "http://127.0.0.1:1/elsewhere" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := addontest.NewTestServer(t)
			a := newTestAddon(t)
			a.set(tt.setup)
			_, err := hc.Install(t.Context(), a.descriptorURL(),
				addontest.InstallOptions{ClientSide: true})
			var ie *addontest.InstallError
			if !errors.As(err, &ie) || ie.StatusCode != http.StatusFound {
				t.Fatalf("err = %v, want an InstallError with status 302", err)
			}
			if n := len(hc.Installations()); n != 0 {
				t.Errorf("%d installations left after a failed install", n)
			}
		})
	}
}

func TestInstallAllowRoomAllowGlobal(t *testing.T) {
	tests := []struct {
		name    string
		allow   map[string]any
		roomID  int
		refused bool
	}{
		{"room refused", map[string]any{"allowRoom": false}, 3, true},
		{"global allowed when rooms are not", map[string]any{"allowRoom": false}, 0, false},
		{"global refused", map[string]any{"allowGlobal": false}, 0, true},
		{"room allowed when global is not", map[string]any{"allowGlobal": false}, 3, false},
		{"defaults allow rooms", map[string]any{}, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := addontest.NewTestServer(t)
			a := newTestAddon(t)
			a.set(func(a *testAddon) {
				a.descriptor = func(base string) map[string]any {
					d := defaultDescriptor(base)
					inst := d["capabilities"].(map[string]any)["installable"].(map[string]any)
					for k, v := range tt.allow {
						inst[k] = v
					}
					return d
				}
			})
			_, err := hc.Install(t.Context(), a.descriptorURL(),
				addontest.InstallOptions{RoomID: tt.roomID})
			if got := errors.Is(err, addontest.ErrNotAllowed); got != tt.refused {
				t.Fatalf("err = %v, refused = %v, want %v", err, got, tt.refused)
			}
			if creds, _ := a.recorded(); tt.refused && len(creds) != 0 {
				t.Error("the add-on was called for a refused install")
			}
		})
	}
}

func TestInstallRefusedByAddonCleansUp(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	a.set(func(a *testAddon) { a.installStatus = http.StatusForbidden })

	_, err := hc.Install(t.Context(), a.descriptorURL(), addontest.InstallOptions{})
	var ie *addontest.InstallError
	if !errors.As(err, &ie) || ie.StatusCode != http.StatusForbidden || ie.Op != "install" {
		t.Fatalf("err = %v, want InstallError 403", err)
	}
	creds, _ := a.recorded()
	if len(creds) != 1 {
		t.Fatalf("%d install POSTs", len(creds))
	}
	if msg := err.Error(); !strings.Contains(msg, "403") ||
		strings.Contains(msg, creds[0].OAuthSecret) {
		t.Errorf("error message %q", msg)
	}
	if _, ok := hc.Installation(creds[0].OAuthID); ok {
		t.Error("installation kept after the add-on refused")
	}
	status, _ := requestToken(t, hc, creds[0].OAuthID, creds[0].OAuthSecret, "")
	if status != http.StatusUnauthorized {
		t.Errorf("token for a refused install: status %d, want 401", status)
	}
}

func TestInstallBadDescriptor(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d map[string]any)
	}{
		{"no key", func(d map[string]any) { delete(d, "key") }},
		{"no links.self", func(d map[string]any) { d["links"] = map[string]any{} }},
		{"unknown scope", func(d map[string]any) {
			caps(d)["hipchatApiConsumer"] = map[string]any{"scopes": []string{"root"}}
		}},
		{"bad pattern", func(d map[string]any) {
			caps(d)["webhook"] = []map[string]any{{"event": "room_message", "url": "/x", "pattern": "("}}
		}},
		{"unknown event", func(d map[string]any) {
			caps(d)["webhook"] = []map[string]any{{"event": "room_dance", "url": "/x"}}
		}},
		{"bad authentication", func(d map[string]any) {
			caps(d)["webhook"] = []map[string]any{{"event": "room_enter", "url": "/x",
				"authentication": "basic"}}
		}},
		{"glance without icon", func(d map[string]any) {
			caps(d)["glance"] = []map[string]any{{"key": "g"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := addontest.NewTestServer(t)
			a := newTestAddon(t)
			a.set(func(a *testAddon) {
				a.descriptor = func(base string) map[string]any {
					d := defaultDescriptor(base)
					tt.mutate(d)
					return d
				}
			})
			_, err := hc.Install(t.Context(), a.descriptorURL(), addontest.InstallOptions{})
			if !errors.Is(err, addontest.ErrBadDescriptor) {
				t.Fatalf("err = %v, want ErrBadDescriptor", err)
			}
		})
	}
}

func caps(d map[string]any) map[string]any { return d["capabilities"].(map[string]any) }

func TestUpdate(t *testing.T) {
	tests := []struct {
		name     string
		updateCB bool
		wantPath string
	}{
		{"updateCallbackUrl", true, "/updated"},
		{"falls back to callbackUrl", false, "/installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := addontest.NewTestServer(t)
			a := newTestAddon(t)
			a.set(func(a *testAddon) {
				a.descriptor = func(base string) map[string]any {
					d := defaultDescriptor(base)
					if tt.updateCB {
						installable(d)["updateCallbackUrl"] = base + "/updated"
					}
					return d
				}
			})
			inst := install(t, hc, a, addontest.InstallOptions{RoomID: 8})
			if err := hc.Update(t.Context(), inst.OAuthID); err != nil {
				t.Fatal(err)
			}

			creds, _ := a.recorded()
			if len(creds) != 2 {
				t.Fatalf("%d POSTs, want install and update", len(creds))
			}
			u := creds[1]
			if u.path != tt.wantPath || u.OAuthID != inst.OAuthID ||
				u.OAuthSecret != inst.OAuthSecret || u.RoomID == nil || *u.RoomID != 8 {
				t.Errorf("update POST %+v to %s, want the same credentials at %s",
					u, u.path, tt.wantPath)
			}
		})
	}
}

func TestUpdateClientSide(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	if err := hc.UpdateClientSide(t.Context(), inst.OAuthID); err != nil {
		t.Fatal(err)
	}
	creds, _ := a.recorded()
	if len(creds) != 2 || creds[1].path != "/client/installed" || creds[1].OAuthID != inst.OAuthID {
		t.Errorf("client-side update gave %+v", creds)
	}
}

func installable(d map[string]any) map[string]any {
	return caps(d)["installable"].(map[string]any)
}

func TestUninstall(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: 3})
	tok := mustToken(t, hc, inst, "send_notification")

	if err := hc.Uninstall(t.Context(), inst.OAuthID); err != nil {
		t.Fatal(err)
	}
	h := a.lastHit()
	if h.Method != http.MethodDelete || h.Path != "/installed/"+inst.OAuthID {
		t.Errorf("uninstall sent %s %s", h.Method, h.Path)
	}
	if _, ok := hc.Installation(inst.OAuthID); ok {
		t.Error("installation still live")
	}
	if status, _ := requestToken(t, hc, inst.OAuthID, inst.OAuthSecret, ""); status != 401 {
		t.Errorf("token after uninstall: status %d, want 401", status)
	}
	status, _, _ := call(t, http.MethodPost, hc.APIURL()+"room/3/notification", tok,
		`{"message":"hi"}`)
	if status != http.StatusUnauthorized {
		t.Errorf("old token after uninstall: status %d, want 401", status)
	}
	if err := hc.Uninstall(t.Context(), inst.OAuthID); !errors.Is(err, addontest.ErrUnknownInstallation) {
		t.Errorf("second uninstall: %v", err)
	}
}

func TestUninstallForgetsBeforeTellingTheAddon(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})

	// The add-on confirms the DELETE by asking the token endpoint.
	status := make(chan int, 1)
	a.set(func(a *testAddon) {
		a.onOther = func(r *http.Request) {
			s, _ := requestToken(t, hc, inst.OAuthID, inst.OAuthSecret, "")
			status <- s
		}
	})

	if err := hc.Uninstall(t.Context(), inst.OAuthID); err != nil {
		t.Fatal(err)
	}
	if s := <-status; s != http.StatusUnauthorized {
		t.Errorf("token request during uninstall: status %d, want 401", s)
	}
}

func TestUninstallClientSide(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{RoomID: 4})

	if err := hc.UninstallClientSide(t.Context(), inst.OAuthID); err != nil {
		t.Fatal(err)
	}
	creds, hits := a.recorded()
	last := creds[len(creds)-1]
	if last.path != "/client/uninstalled" || last.OAuthID != inst.OAuthID {
		t.Errorf("uninstall installable gave %+v at %s", last, last.path)
	}
	if _, ok := hc.Installation(inst.OAuthID); ok {
		t.Error("installation still live")
	}
	u := hits[len(hits)-1].Query.Get("installable_url")
	if status, _, _ := call(t, http.MethodGet, u, "", ""); status != http.StatusNotFound {
		t.Errorf("second fetch of installable_url: status %d, want 404", status)
	}
}

func TestForget(t *testing.T) {
	hc := addontest.NewTestServer(t)
	a := newTestAddon(t)
	inst := install(t, hc, a, addontest.InstallOptions{})
	hc.Forget(inst.OAuthID)
	hc.Forget("no-such-client")

	if status, _ := requestToken(t, hc, inst.OAuthID, inst.OAuthSecret, ""); status != 401 {
		t.Errorf("token after Forget: status %d, want 401", status)
	}
	if _, hits := a.recorded(); len(hits) != 0 {
		t.Errorf("Forget told the add-on: %+v", hits)
	}
	if err := hc.Update(t.Context(), inst.OAuthID); !errors.Is(err, addontest.ErrUnknownInstallation) {
		t.Errorf("Update after Forget: %v", err)
	}
}
