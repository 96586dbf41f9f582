package addon

import "context"

// authContextKey is the context key under which a verified request's
// installation and claims are kept.
type authContextKey struct{}

// authInfo is what the JWT middleware verified about a request. It is
// never modified after it is stored; accessors hand out copies.
type authInfo struct {
	inst   *Installation
	claims *Claims
}

// authContext is a context carrying an authInfo. It does what
// context.WithValue would, in one allocation instead of two, since every
// signed request makes one.
type authContext struct {
	context.Context
	info authInfo
}

// Value returns the authInfo for authContextKey and asks the parent
// context for any other key.
func (c *authContext) Value(key any) any {
	if key == (authContextKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

// newAuthContext returns a context that carries what a signed request's
// JWT proved: the installation that signed it and its claims.
func newAuthContext(ctx context.Context, inst *Installation, claims *Claims) context.Context {
	return &authContext{Context: ctx, info: authInfo{inst: inst, claims: claims}}
}

func authFromContext(ctx context.Context) *authInfo {
	if ctx == nil {
		return nil
	}
	info, _ := ctx.Value(authContextKey{}).(*authInfo)
	return info
}

// InstallationFromContext returns the installation whose JWT a request
// carried, from the context of a request that passed the add-on's JWT
// check. It returns a copy, which the caller may modify. ok is false when
// ctx holds no verified request.
func InstallationFromContext(ctx context.Context) (inst *Installation, ok bool) {
	info := authFromContext(ctx)
	if info == nil || info.inst == nil {
		return nil, false
	}
	return info.inst.Clone(), true
}

// ClaimsFromContext returns the verified claims of a request's JWT, from
// the context of a request that passed the add-on's JWT check. It returns
// a copy, which the caller may modify. ok is false when ctx holds no
// verified request.
func ClaimsFromContext(ctx context.Context) (claims *Claims, ok bool) {
	info := authFromContext(ctx)
	if info == nil || info.claims == nil {
		return nil, false
	}
	return info.claims.clone(), true
}

// UserIDFromContext returns the id of the HipChat user a verified request
// speaks for (the JWT's sub, or prn in older tokens). ok is false when ctx
// holds no verified request or the token names no user.
func UserIDFromContext(ctx context.Context) (userID string, ok bool) {
	info := authFromContext(ctx)
	if info == nil || info.claims == nil {
		return "", false
	}
	userID = info.claims.UserID()
	return userID, userID != ""
}

// RoomIDFromContext returns the room a verified request concerns: the
// room_id of the JWT's context claim, or else the installation's room when
// the add-on is installed in a single room. ok is false when ctx holds no
// verified request, or when a global installation's token names no room.
func RoomIDFromContext(ctx context.Context) (roomID int, ok bool) {
	info := authFromContext(ctx)
	if info == nil {
		return 0, false
	}
	if info.claims != nil && info.claims.Context.RoomID != 0 {
		return info.claims.Context.RoomID, true
	}
	if info.inst != nil && !info.inst.IsGlobal() {
		return info.inst.RoomID, true
	}
	return 0, false
}
