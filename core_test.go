package addon

import (
	"errors"
	"testing"
)

func TestCheckTrusted(t *testing.T) {
	a := &HipChatAddon{}
	var bad []string
	a.trusted, bad = parseTrustedServers([]string{"https://hipchat.example.com/chat", "http://127.0.0.1:8080"})
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://hipchat.example.com/chat/v2/capabilities", true},
		{"https://HIPCHAT.example.com/chat/v2/", true},
		{"https://hipchat.example.com/chat", true},
		{"http://127.0.0.1:8080/v2/oauth/token", true},
		{"http://hipchat.example.com/chat/v2/", false},       // scheme
		{"https://hipchat.example.com/other/v2/", false},     // outside the base path
		{"https://hipchat.example.com/chatroom/v2/", false},  // a prefix, not a segment
		{"https://hipchat.example.com/chat/../admin", false}, // dot segments
		{"https://hipchat.example.com/chat/%2e%2e/admin", false},
		{"https://hipchat.example.com/chat/v2/..", false},
		{"https://hipchat.example.com.evil.example/chat/", false},
		{"https://user:pw@hipchat.example.com/chat/", false},
		{"http://127.0.0.1:8081/v2/", false}, // port
		{"/chat/v2/", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		_, err := a.checkTrusted(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("checkTrusted(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUntrustedServer) {
			t.Errorf("checkTrusted(%q) = %v, want ErrUntrustedServer", tt.url, err)
		}
	}
}

func TestParseTrustedServers(t *testing.T) {
	for _, base := range []string{"ftp://x.example", "https://", "https://x.example/?q=1", "https://u@x.example"} {
		if _, bad := parseTrustedServers([]string{base}); len(bad) != 1 {
			t.Errorf("%q: problems %v, want one", base, bad)
		}
	}
	if _, bad := parseTrustedServers(nil); len(bad) != 1 {
		t.Errorf("no servers: problems %v, want one", bad)
	}
}
