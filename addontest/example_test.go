package addontest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"

	"github.com/hipchat-connect/addon/addontest"
)

// tinyAddon is a minimal add-on written with net/http alone: on install it
// reads HipChat's capabilities, fetches a token and greets the room.
func tinyAddon() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /capabilities.json", func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		fmt.Fprintf(w, `{"key": "tiny", "name": "Tiny", "description": "Greets",
			"links": {"self": %q},
			"capabilities": {
				"hipchatApiConsumer": {"scopes": ["send_notification"]},
				"installable": {"callbackUrl": %q}}}`,
			base+"/capabilities.json", base+"/installed")
	})
	mux.HandleFunc("POST /installed", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			OAuthID, OAuthSecret, CapabilitiesURL string
			RoomID                                int
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil || greet(r.Context(), in.OAuthID,
			in.OAuthSecret, in.CapabilitiesURL, in.RoomID) != nil {
			http.Error(w, "install failed", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// greet does what an add-on does after an install: capabilities, token,
// notification.
func greet(ctx context.Context, id, secret, capsURL string, room int) error {
	var caps struct {
		Capabilities struct {
			OAuth2Provider     struct{ TokenURL string }
			HipchatAPIProvider struct{ URL string }
		}
	}
	if err := getJSON(ctx, capsURL, &caps); err != nil {
		return err
	}

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"send_notification"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		caps.Capabilities.OAuth2Provider.TokenURL, strings.NewReader(form.Encode()))
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(req, &tok); err != nil {
		return err
	}

	api := caps.Capabilities.HipchatAPIProvider.URL
	body := `{"message": "Hello from the add-on", "color": "green"}`
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost,
		api+"room/"+strconv.Itoa(room)+"/notification", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	return doJSON(req, nil)
}

func getJSON(ctx context.Context, u string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	return doJSON(req, v)
}

func doJSON(req *http.Request, v any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if v == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func Example() {
	hc := addontest.NewServer()
	defer hc.Close()
	app := httptest.NewServer(tinyAddon())
	defer app.Close()

	inst, err := hc.Install(context.Background(), app.URL+"/capabilities.json",
		addontest.InstallOptions{RoomID: 42})
	if err != nil {
		fmt.Println("install:", err)
		return
	}
	fmt.Println("installed", inst.Key, "in room", inst.RoomID)
	for _, n := range hc.Notifications() {
		fmt.Printf("room %d: %q (%s)\n", n.RoomID, n.Message, n.Color)
	}
	fmt.Println("token requests:", hc.TokenRequests(inst.OAuthID))
	// Output:
	// installed tiny in room 42
	// room 42: "Hello from the add-on" (green)
	// token requests: 1
}
