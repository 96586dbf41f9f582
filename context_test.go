package addon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func testClaims(sub, prn string, roomID int) *Claims {
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "oauth-x", Subject: sub, Audience: jwt.ClaimStrings{"addon"},
			ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Hour)),
		},
		Prn:     prn,
		Context: ClaimsContext{RoomID: roomID, UserTZ: "UTC"},
	}
}

func TestContextAccessors(t *testing.T) {
	tests := []struct {
		name     string
		inst     *Installation
		claims   *Claims
		wantUser string
		wantRoom int
	}{
		{"room from claim", globalInst, testClaims("1", "", 5), "1", 5},
		{"claim wins over room installation", roomInst, testClaims("1", "", 5), "1", 5},
		{"room from installation", roomInst, testClaims("1", "", 0), "1", 42},
		{"global without room", globalInst, testClaims("1", "", 0), "1", 0},
		{"prn fallback", globalInst, testClaims("", "9", 0), "9", 0},
		{"sub over prn", globalInst, testClaims("1", "9", 0), "1", 0},
		{"no user", globalInst, testClaims("", "", 0), "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := newAuthContext(context.Background(), tt.inst.Clone(), tt.claims)

			inst, ok := InstallationFromContext(ctx)
			if !ok || inst.OAuthID != tt.inst.OAuthID {
				t.Errorf("InstallationFromContext = %v, %v", inst, ok)
			}
			claims, ok := ClaimsFromContext(ctx)
			if !ok || claims.Issuer != "oauth-x" || claims.Context != tt.claims.Context {
				t.Errorf("ClaimsFromContext = %+v, %v", claims, ok)
			}
			user, ok := UserIDFromContext(ctx)
			if user != tt.wantUser || ok != (tt.wantUser != "") {
				t.Errorf("UserIDFromContext = %q, %v; want %q", user, ok, tt.wantUser)
			}
			room, ok := RoomIDFromContext(ctx)
			if room != tt.wantRoom || ok != (tt.wantRoom != 0) {
				t.Errorf("RoomIDFromContext = %d, %v; want %d", room, ok, tt.wantRoom)
			}
		})
	}
}

func TestContextWithoutAuth(t *testing.T) {
	for _, ctx := range []context.Context{context.Background(), nil} {
		if inst, ok := InstallationFromContext(ctx); ok || inst != nil {
			t.Errorf("InstallationFromContext = %v, %v", inst, ok)
		}
		if claims, ok := ClaimsFromContext(ctx); ok || claims != nil {
			t.Errorf("ClaimsFromContext = %v, %v", claims, ok)
		}
		if user, ok := UserIDFromContext(ctx); ok || user != "" {
			t.Errorf("UserIDFromContext = %q, %v", user, ok)
		}
		if room, ok := RoomIDFromContext(ctx); ok || room != 0 {
			t.Errorf("RoomIDFromContext = %d, %v", room, ok)
		}
	}
}

func TestContextHandsOutCopies(t *testing.T) {
	ctx := newAuthContext(context.Background(), roomInst.Clone(), testClaims("1", "", 5))

	inst, _ := InstallationFromContext(ctx)
	inst.OAuthSecret, inst.RoomID = "changed", 1
	claims, _ := ClaimsFromContext(ctx)
	claims.Subject, claims.Context.RoomID = "changed", 1
	claims.Audience[0] = "changed"
	claims.ExpiresAt.Time = time.Time{}

	again, _ := InstallationFromContext(ctx)
	if *again != *roomInst {
		t.Errorf("installation changed through a copy: %#v", again)
	}
	if room, _ := RoomIDFromContext(ctx); room != 5 {
		t.Errorf("room changed through a copy: %d", room)
	}
	c2, _ := ClaimsFromContext(ctx)
	if c2.Subject != "1" || c2.Audience[0] != "addon" || !c2.ExpiresAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("claims changed through a copy: %+v", c2)
	}
}

func TestAuthContextKeepsParent(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx := newAuthContext(parent, globalInst.Clone(), testClaims("1", "", 0))
	child, cancelChild := context.WithCancel(ctx)
	t.Cleanup(cancelChild)

	if child.Value(key{}) != "v" {
		t.Errorf("parent's value lost: %v", child.Value(key{}))
	}
	if _, ok := InstallationFromContext(child); !ok {
		t.Error("installation lost in a child context")
	}
	cancel()
	<-child.Done() // blocks forever, failing by timeout, if cancellation is lost
	if !errors.Is(child.Err(), context.Canceled) || !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err = %v, %v", child.Err(), ctx.Err())
	}
}
