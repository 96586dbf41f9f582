package addontest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hipchat-connect/addon/addontest"
)

func TestServerURLs(t *testing.T) {
	hc := addontest.NewTestServer(t)
	if !strings.HasPrefix(hc.URL, "http://127.0.0.1:") || strings.HasSuffix(hc.URL, "/") {
		t.Errorf("URL %q", hc.URL)
	}
	if hc.CapabilitiesURL() != hc.URL+"/v2/capabilities" || hc.APIURL() != hc.URL+"/v2/" ||
		hc.TokenURL() != hc.URL+"/v2/oauth/token" {
		t.Errorf("URLs %q %q %q", hc.CapabilitiesURL(), hc.APIURL(), hc.TokenURL())
	}
	if hc.Client() == nil || hc.GroupID() != addontest.DefaultGroupID {
		t.Error("Client or GroupID missing")
	}
}

func TestServesHipChatScripts(t *testing.T) {
	hc := addontest.NewTestServer(t)
	for _, p := range []string{addontest.AllJSPath, addontest.AllCSSPath} {
		resp, err := http.Get(hc.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", p, resp.StatusCode)
		}
	}
}

func TestCloseStopsServing(t *testing.T) {
	hc := addontest.NewServer()
	u := hc.CapabilitiesURL()
	hc.Close()
	hc.Close()
	if resp, err := http.Get(u); err == nil {
		resp.Body.Close()
		t.Error("the fake still answers after Close")
	}
}

func TestInstallErrorsWithoutAddon(t *testing.T) {
	hc := addontest.NewTestServer(t)
	_, err := hc.Install(t.Context(), "http://127.0.0.1:1/capabilities.json", addontest.InstallOptions{})
	if err == nil {
		t.Error("Install of an unreachable add-on succeeded")
	}
}
