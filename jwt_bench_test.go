package addon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// benchVerifier returns a verifier on a fixed clock whose memory store
// holds globalInst only.
func benchVerifier(b *testing.B) *verifier {
	b.Helper()
	store := NewMemoryInstallationStore()
	if err := store.Add(context.Background(), globalInst); err != nil {
		b.Fatal(err)
	}
	v := newVerifier(store, discardLogger())
	v.now = func() time.Time { return testNow }
	return v
}

func BenchmarkMiddleware(b *testing.B) {
	v := benchVerifier(b)
	called := 0
	h := v.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called++ }))
	r := httptest.NewRequest(http.MethodGet, "/webhook", nil)
	r.Header.Set("Authorization", "JWT "+hs256(b, nil))
	w := httptest.NewRecorder()

	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if called == 0 || w.Code != http.StatusOK {
		b.Fatalf("handler called %d times, status %d", called, w.Code)
	}
}

func BenchmarkBareParseWithClaims(b *testing.B) {
	tok := hs256(b, nil)
	key := []byte(globalInst.OAuthSecret)
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(DefaultClockSkew),
		jwt.WithTimeFunc(func() time.Time { return testNow }),
	)
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }

	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseWithClaims(tok, &Claims{}, keyFunc); err != nil {
			b.Fatal(err)
		}
	}
}

// discardWriter is a ResponseWriter that keeps nothing but the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkRejectHugeToken measures refusing an oversized token through
// the middleware. The limit is 512 bytes, so that the 1 KiB and the 1 MiB
// tokens are both over it: the cost and the allocations must not grow with
// the token's size.
func BenchmarkRejectHugeToken(b *testing.B) {
	tests := []struct {
		name   string
		header bool
		size   int
	}{
		{"header-1KiB", true, 1 << 10},
		{"header-1MiB", true, 1 << 20},
		{"query-1KiB", false, 1 << 10},
		{"query-1MiB", false, 1 << 20},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			v := benchVerifier(b)
			v.maxTokenLen = 512
			h := v.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				b.Fatal("handler called")
			}))
			r := httptest.NewRequest(http.MethodGet, "/glance", nil)
			tok := strings.Repeat("a", tt.size)
			if tt.header {
				r.Header.Set("Authorization", "JWT "+tok)
			} else {
				r.URL.RawQuery = "signed_request=" + tok
			}
			w := &discardWriter{h: http.Header{}}

			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if w.code != http.StatusUnauthorized {
				b.Fatalf("status %d", w.code)
			}
		})
	}
}
