package addon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"
)

// tokenFetchTimeout bounds one request to HipChat's token endpoint.
const tokenFetchTimeout = 30 * time.Second

// accessToken is an access token for one installation and scope set.
type accessToken struct {
	value     string
	renewAt   time.Time // zero: HipChat named no lifetime
	groupID   int
	groupName string
}

// tokenCache keeps access tokens per installation and scope set. The token
// exchange itself is golang.org/x/oauth2's client-credentials flow; the
// cache is kept here rather than in an oauth2.TokenSource so that expiry
// follows the add-on's clock, a token can be dropped when HipChat rejects
// it, and a token request for a revoked installation can be told apart.
type tokenCache struct {
	a     *HipChatAddon
	group singleflight.Group

	mu     sync.Mutex // guards tokens
	tokens map[string]*accessToken
}

func newTokenCache(a *HipChatAddon) *tokenCache {
	return &tokenCache{a: a, tokens: make(map[string]*accessToken)}
}

// tokenKey names an installation's credentials and a scope set, given by
// scopeKey. The secret is part of the key so that new credentials never
// reuse an old token.
func tokenKey(inst *Installation, scopeKey string) string {
	return inst.OAuthID + "\x00" + inst.OAuthSecret + "\x00" + scopeKey
}

// scopeKey names a scope set whatever the order of its scopes.
func scopeKey(scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return strings.Join(s, " ")
}

// get returns a token that is valid for at least the renewal margin,
// requesting one if needed. However many goroutines ask at once, one
// request is made per key.
func (c *tokenCache) get(ctx context.Context, key string, inst *Installation,
	scopes []string) (*accessToken, error) {
	if t := c.cached(key); t != nil {
		return t, nil
	}

	// The shared request must not fail because the goroutine that started
	// it gave up, so it runs on a context of its own.
	ch := c.group.DoChan(key, func() (any, error) {
		if t := c.cached(key); t != nil {
			return t, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchTimeout)
		defer cancel()
		t, err := c.a.requestToken(fctx, inst, scopes)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.tokens[key] = t
		c.mu.Unlock()
		return t, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*accessToken), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put keeps a token obtained outside get, such as the one that proved an
// installation's credentials.
func (c *tokenCache) put(key string, t *accessToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens[key] = t
}

func (c *tokenCache) cached(key string) *accessToken {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tokens[key]
	if t == nil {
		return nil
	}
	if !t.renewAt.IsZero() && !c.a.cfg.now().Before(t.renewAt) {
		delete(c.tokens, key)
		return nil
	}
	return t
}

// drop forgets one token, after HipChat rejected it.
func (c *tokenCache) drop(key string, t *accessToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens[key] == t {
		delete(c.tokens, key)
	}
}

// forget drops every token of an installation.
func (c *tokenCache) forget(oauthID string) {
	prefix := oauthID + "\x00"
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.tokens {
		if strings.HasPrefix(k, prefix) {
			delete(c.tokens, k)
		}
	}
}

// requestToken asks the installation's token endpoint for a token. An
// answer of 401 means HipChat no longer knows the credentials: the error
// then wraps ErrInstallationRevoked.
func (a *HipChatAddon) requestToken(ctx context.Context, inst *Installation,
	scopes []string) (*accessToken, error) {
	if _, err := a.checkTrusted(inst.TokenURL); err != nil {
		return nil, fmt.Errorf("addon: token URL of %s: %w", inst.OAuthID, err)
	}
	cc := clientcredentials.Config{
		ClientID:     inst.OAuthID,
		ClientSecret: inst.OAuthSecret,
		TokenURL:     inst.TokenURL,
		Scopes:       scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	start := a.cfg.now()
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, a.httpClient()))
	if err != nil {
		var re *oauth2.RetrieveError
		answered := errors.As(err, &re) && re.Response != nil
		if answered && re.Response.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w: token request for %s answered 401",
				ErrInstallationRevoked, inst.OAuthID)
		}
		if answered {
			return nil, fmt.Errorf("addon: token request for %s: %d %s", inst.OAuthID,
				re.Response.StatusCode, re.ErrorCode)
		}
		return nil, fmt.Errorf("addon: token request for %s: %w", inst.OAuthID, scrubSecret(err, inst))
	}

	t := &accessToken{value: tok.AccessToken}
	// The lifetime is read from expires_in itself, so that expiry follows
	// the add-on's clock rather than the one oauth2 reads.
	if secs := intExtra(tok.Extra("expires_in")); secs > 0 {
		// Renew a little before expiry, but never spend more than half
		// of a short lifetime waiting for renewal.
		life := time.Duration(secs) * time.Second
		t.renewAt = start.Add(life - min(a.cfg.tokenRenewal, life/2))
	}
	t.groupID = intExtra(tok.Extra("group_id"))
	if s, ok := tok.Extra("group_name").(string); ok {
		t.groupName = s
	}
	return t, nil
}

// intExtra reads a number from a token response's extra fields.
func intExtra(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case string:
		var i int
		fmt.Sscan(n, &i)
		return i
	}
	return 0
}

// scrubSecret makes sure an error never carries the installation's secret.
func scrubSecret(err error, inst *Installation) error {
	if inst.OAuthSecret == "" || !strings.Contains(err.Error(), inst.OAuthSecret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), inst.OAuthSecret, "[secret]"))
}
