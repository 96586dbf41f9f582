package addon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hipchat-connect/addon/addontest"
)

// BenchmarkNotify compares SendNotification, with its token cached, to a
// plain net/http POST of the same body, with the same token, to the same
// loopback server. Both send with an *http.Client of the same settings, so
// that what is measured is the add-on's own work.
func BenchmarkNotify(b *testing.B) {
	hc := addontest.NewTestServer(b, addontest.WithRateLimit(1<<30))
	f := newFixture(b, hc, NewMemoryInstallationStore(), nil, Logger(discardLogger()), HttpClient(&http.Client{}))
	inst := f.stored(b, f.install(b, 42).OAuthID)
	n := &Notification{Message: "Build 42 passed", Color: ColorGreen, MessageFormat: FormatText}
	if err := f.a.SendNotification(inst, n); err != nil {
		b.Fatal(err)
	}

	b.Run("plain-post", func(b *testing.B) {
		tok, err := f.a.tokens.get(b.Context(), tokenKey(inst, f.a.scopeKey), inst, f.a.scopes)
		if err != nil {
			b.Fatal(err)
		}
		body, err := json.Marshal(n)
		if err != nil {
			b.Fatal(err)
		}
		target := inst.APIURL + "room/42/notification"
		client := &http.Client{}
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok.value)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			drainClose(resp.Body)
			if resp.StatusCode != http.StatusNoContent {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})

	b.Run("addon", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f.a.SendNotification(inst, n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
