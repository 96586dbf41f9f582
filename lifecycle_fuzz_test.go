package addon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzInstallBody sends arbitrary bodies to the install callback. Whatever
// arrives, the add-on answers with a 4xx, stores nothing, and contacts no
// host: nothing but the trusted fake HipChat, which knows no client.
func FuzzInstallBody(f *testing.F) {
	f.Add([]byte(`{"oauthId":"a","oauthSecret":"b","capabilitiesUrl":"https://api.hipchat.com/v2/capabilities","groupId":1,"roomId":2}`))
	f.Add([]byte(`{"oauthId":"a","oauthSecret":"b","capabilitiesUrl":"http://169.254.169.254/","groupId":"1","roomId":null}`))
	f.Add([]byte(`{"groupId":-1}`))
	f.Add([]byte(`{"roomId":"12abc"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"oauthId":"a","oauthSecret":"b","capabilitiesUrl":"https://api.hipchat.com.evil.example/v2/capabilities","groupId":1}`))

	var hits int
	hipchat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer hipchat.Close()
	store := NewMemoryInstallationStore()
	a, err := Open(testDescriptor("https://addon.example.com"), store,
		Logger(discardLogger()), TrustedServers(hipchat.URL),
		HttpClient(hostOnlyDoer{host: hipchat.Listener.Addr().String()}))
	if err != nil {
		f.Fatal(err)
	}
	h := a.Handler()

	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/installable", bytes.NewReader(body))
		h.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 600 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if all, _ := store.List(t.Context()); len(all) != 0 {
			t.Fatalf("body %q stored an installation", body)
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
	})
}

// hostOnlyDoer fails the test run if the add-on contacts any other host.
type hostOnlyDoer struct{ host string }

func (d hostOnlyDoer) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Host != d.host {
		panic("request to untrusted host " + req.URL.Host)
	}
	return http.DefaultClient.Do(req)
}
