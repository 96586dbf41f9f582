// Package addontest provides a fake HipChat server for testing HipChat
// Connect add-ons, in the spirit of net/http/httptest.
//
// A [Server] listens on a loopback port and plays HipChat's side of the
// add-on protocol over real HTTP: it fetches the add-on's capabilities
// descriptor, installs it (server-side through installable.callbackUrl, or
// client-side through installedUrl and a one-time installable_url), serves
// HipChat's capabilities document and OAuth token endpoint, answers the API
// calls add-ons make (room notifications, room and private messages, room
// lookups, glance updates) and records them, and sends the add-on signed
// webhooks, glance queries and page loads. Faults, such as a 401 from the
// token endpoint, a 429 with rate-limit headers or a slow API, are
// injected with [Server.InjectFault].
//
// A test of an add-on typically reads:
//
//	func TestEcho(t *testing.T) {
//		hc := addontest.NewTestServer(t)
//		app := httptest.NewServer(myAddon()) // the add-on under test
//		t.Cleanup(app.Close)
//
//		ctx := t.Context()
//		inst, err := hc.Install(ctx, app.URL+"/capabilities.json",
//			addontest.InstallOptions{RoomID: 42})
//		if err != nil {
//			t.Fatal(err)
//		}
//
//		from := addontest.User{ID: 7, MentionName: "ann", Name: "Ann"}
//		resp, err := hc.SendRoomMessage(ctx, inst.OAuthID, 42, from, "/echo hi")
//		if err != nil {
//			t.Fatal(err)
//		}
//		resp.Body.Close()
//
//		notes, err := hc.WaitNotifications(ctx, 1)
//		if err != nil || notes[0].Message != "hi" {
//			t.Fatalf("notifications %v, %v", notes, err)
//		}
//	}
//
// The add-on learns every HipChat URL from the capabilitiesUrl the fake
// hands it on install, so it needs no special configuration, except that an
// add-on which only trusts known HipChat hosts must trust [Server.URL].
//
// Where HipChat versions differed, the fake can play either: it signs with
// "Authorization: JWT <token>", "JWT token=<token>" or ?signed_request=
// ([SignStyle]), puts the user in "sub" or the older "prn"
// ([WithLegacySubject]), accepts form or JSON token requests, and supports
// both uninstall mechanisms ([Server.Uninstall], [Server.UninstallClientSide]).
//
// Limits: the fake keeps everything in memory and knows a single group. It
// validates what the add-on sends about as strictly as HipChat did, but not
// every field: cards are checked for their required fields and
// enumerations only. Flood control (30 messages a minute to one room) is not
// enforced. Glance updates need a valid token but no particular scope. An
// installation may be installed in rooms the fake was never told about;
// only room lookups and rooms named by name need [Server.SetRoom].
package addontest
