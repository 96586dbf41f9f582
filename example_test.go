package addon_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/hipchat-connect/addon"
	"github.com/hipchat-connect/addon/addontest"
)

// An add-on that answers "/hello" in a room, tested end to end against the
// fake HipChat of package addontest.
func Example() {
	hipchat := addontest.NewServer()
	defer hipchat.Close()

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()

	descriptor := &addon.CapabilitiesDescriptor{
		Key:         "hello",
		Name:        "Hello",
		Description: "Says hello back.",
		Links:       addon.Links{Self: srv.URL + "/capabilities.json"},
		Capabilities: addon.Capabilities{
			HipchatAPIConsumer: &addon.HipchatAPIConsumer{Scopes: []string{addon.ScopeSendNotification}},
			Installable:        &addon.Installable{CallbackURL: srv.URL + "/installable"},
			Webhooks: []addon.Webhook{
				{Event: addon.EventRoomMessage, URL: srv.URL + "/hello", Pattern: "^/hello"},
			},
		},
	}
	hello := func(ctx context.Context, a *addon.HipChatAddon, inst *addon.Installation,
		e *addon.WebhookEvent) (*addon.Notification, error) {
		return &addon.Notification{Message: "Hello, " + e.Sender().Name + "!"}, nil
	}
	a, err := addon.Open(descriptor, addon.NewMemoryInstallationStore(),
		addon.TrustedServers(hipchat.URL),
		addon.Logger(addon.NewStdLogger(log.New(io.Discard, "", 0), false)),
		addon.OnWebhook(addon.EventRoomMessage, hello))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	for _, route := range a.Routes() {
		mux.HandleFunc(route.Path, route.Handler)
	}

	ctx := context.Background()
	inst, err := hipchat.Install(ctx, srv.URL+"/capabilities.json", addontest.InstallOptions{RoomID: 1})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := hipchat.SendRoomMessage(ctx, inst.OAuthID, 1,
		addontest.User{ID: 7, Name: "Ann", MentionName: "ann"}, "/hello")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()

	for _, n := range hipchat.Notifications() {
		fmt.Printf("room %d: %s\n", n.RoomID, n.Message)
	}
	// Output: room 1: Hello, Ann!
}
