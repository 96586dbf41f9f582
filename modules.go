package addon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// WebhookHandler handles one webhook HipChat sent for inst. It may return
// a notification, which HipChat posts to the room the webhook came from;
// returning nil answers with no content. An error is logged and answered
// 500.
type WebhookHandler func(ctx context.Context, a *HipChatAddon, inst *Installation,
	e *WebhookEvent) (*Notification, error)

// GlanceHandler answers a glance query: what the glance shows the user who
// opened HipChat.
type GlanceHandler func(ctx context.Context, a *HipChatAddon, inst *Installation,
	q *GlanceQuery) (*GlanceData, error)

// GlanceQuery is a glance query HipChat's client sent.
type GlanceQuery struct {
	// Key is the glance's key in the descriptor.
	Key string
	// UserID is the HipChat user who asks, and RoomID the room they are
	// in (zero if none).
	UserID string
	RoomID int
	Claims *Claims
}

// handlerProblems reports handlers set for modules the descriptor does not
// declare.
func handlerProblems(d *CapabilitiesDescriptor, cfg *config) []string {
	var problems []string
	c := &d.Capabilities
	add := func(format string, args ...any) {
		problems = append(problems, "options: "+fmt.Sprintf(format, args...))
	}
	for event := range cfg.webhooks {
		declared := func(w Webhook) bool { return w.Event == event }
		if !slices.ContainsFunc(c.Webhooks, declared) {
			add("webhook handler for %q, which the descriptor does not declare", event)
		}
	}
	for key := range cfg.glances {
		queried := func(g Glance) bool { return g.Key == key && g.QueryURL != "" }
		if !slices.ContainsFunc(c.Glances, queried) {
			add("glance handler for %q, which has no queryUrl in the descriptor", key)
		}
	}
	for key := range cfg.pages {
		if pageURL(d, key) == "" {
			add("page handler for %q, which is no dialog, web panel or external page with a url", key)
		}
	}
	if cfg.configurable != nil && (c.Configurable == nil || c.Configurable.URL == "") {
		add("configurable handler, but the descriptor declares no configurable url")
	}
	if cfg.adminPage != nil && (c.AdminPage == nil || c.AdminPage.URL == "") {
		add("admin page handler, but the descriptor declares no adminPage url")
	}
	slices.Sort(problems)
	return problems
}

// warnUnhandled logs modules the descriptor declares that nothing serves.
func warnUnhandled(d *CapabilitiesDescriptor, cfg *config) {
	c := &d.Capabilities
	for _, w := range c.Webhooks {
		if cfg.webhooks[w.Event] == nil {
			cfg.logger.Warnf("no handler for webhook %s; it is answered 204", w.Event)
		}
	}
	for _, g := range c.Glances {
		if g.QueryURL != "" && cfg.glances[g.Key] == nil {
			cfg.logger.Warnf("no handler for glance %s; its query URL is not served", g.Key)
		}
	}
	for _, key := range pageKeys(d) {
		if cfg.pages[key] == nil {
			cfg.logger.Warnf("no handler for page %s; serve its url yourself", key)
		}
	}
}

// pageURL is the url of the dialog, web panel or external page with key.
func pageURL(d *CapabilitiesDescriptor, key string) string {
	c := &d.Capabilities
	for _, p := range c.Dialogs {
		if p.Key == key {
			return p.URL
		}
	}
	for _, p := range c.WebPanels {
		if p.Key == key {
			return p.URL
		}
	}
	for _, p := range c.ExternalPages {
		if p.Key == key {
			return p.URL
		}
	}
	return ""
}

func pageKeys(d *CapabilitiesDescriptor) []string {
	var keys []string
	c := &d.Capabilities
	for _, p := range c.Dialogs {
		keys = append(keys, p.Key)
	}
	for _, p := range c.WebPanels {
		keys = append(keys, p.Key)
	}
	for _, p := range c.ExternalPages {
		keys = append(keys, p.Key)
	}
	return keys
}

// addWebhookRoutes adds one route per webhook path; several events may
// share a path.
func (a *HipChatAddon) addWebhookRoutes(s *routeSet) {
	byPath := map[string][]Webhook{}
	var paths []string
	for _, w := range a.descriptor.Capabilities.Webhooks {
		p := urlPath(w.URL)
		if byPath[p] == nil {
			paths = append(paths, p)
		}
		byPath[p] = append(byPath[p], w)
	}
	for _, p := range paths {
		s.add("capabilities.webhook "+p, p, a.wrapRoute(a.handleWebhook(byPath[p]), "POST"), "POST")
	}
}

// handleWebhook serves the webhooks declared at one path. A path is signed
// unless every webhook there opted out with authentication "none".
func (a *HipChatAddon) handleWebhook(hooks []Webhook) http.HandlerFunc {
	signed := slices.ContainsFunc(hooks, func(w Webhook) bool {
		return w.Authentication != WebhookAuthNone
	})
	return func(w http.ResponseWriter, r *http.Request) {
		var inst *Installation
		var claims *Claims
		if signed {
			var iss string
			var err error
			if inst, claims, iss, err = a.verifier.verifyRequest(r); err != nil {
				a.verifier.refuse(w, r, iss, err)
				return
			}
		}

		body, err := io.ReadAll(r.Body)
		if err != nil {
			a.answerError(w, r, "", &statusError{httpStatusOfBodyError(err), err})
			return
		}
		e, err := ParseWebhookEvent(body)
		if err != nil {
			a.answerError(w, r, "", &statusError{http.StatusBadRequest, err})
			return
		}
		if !slices.ContainsFunc(hooks, func(h Webhook) bool { return h.Event == e.Event }) {
			a.answerError(w, r, e.OAuthClientID, &statusError{http.StatusBadRequest,
				fmt.Errorf("addon: event %q is not declared at this url", e.Event)})
			return
		}
		if inst == nil {
			if inst, err = a.store.Get(r.Context(), e.OAuthClientID); err != nil {
				a.answerError(w, r, e.OAuthClientID, &statusError{http.StatusUnauthorized, err})
				return
			}
		} else if e.OAuthClientID != inst.OAuthID {
			a.answerError(w, r, inst.OAuthID, &statusError{http.StatusUnauthorized,
				fmt.Errorf("addon: webhook body names another installation")})
			return
		}

		a.dispatchWebhook(w, r, inst, claims, e)
	}
}

func (a *HipChatAddon) dispatchWebhook(w http.ResponseWriter, r *http.Request,
	inst *Installation, claims *Claims, e *WebhookEvent) {
	h := a.cfg.webhooks[e.Event]
	if h == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ctx := newAuthContext(r.Context(), inst, claims)
	n, err := h(ctx, a, inst.Clone(), e)
	if err != nil {
		a.answerError(w, r, inst.OAuthID, fmt.Errorf("addon: %s handler: %w", e.Event, err))
		return
	}
	if n == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := n.Validate(); err != nil {
		a.answerError(w, r, inst.OAuthID, fmt.Errorf("addon: %s handler's answer: %w", e.Event, err))
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// handleGlanceQuery answers the query URL of one glance, with CORS headers
// for the browser that runs HipChat's client.
func (a *HipChatAddon) handleGlanceQuery(key string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := a.cfg.glances[key]
		if h == nil {
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodOptions {
			a.corsPreflight(w, r)
			return
		}
		inst, claims, iss, err := a.verifier.verifyRequest(r)
		if err != nil {
			a.verifier.refuse(w, r, iss, err)
			return
		}
		a.allowOrigin(w, r, inst)

		ctx := newAuthContext(r.Context(), inst, claims)
		room, _ := RoomIDFromContext(ctx)
		q := &GlanceQuery{Key: key, UserID: claims.UserID(), RoomID: room, Claims: claims}
		data, err := h(ctx, a, inst.Clone(), q)
		if err == nil && data == nil {
			err = fmt.Errorf("addon: glance %s handler returned no data", key)
		}
		if err == nil {
			err = data.Validate()
		}
		if err != nil {
			a.answerError(w, r, inst.OAuthID, err)
			return
		}
		writeJSON(w, http.StatusOK, data)
	}
}

// allowOrigin sets CORS headers when the request's origin is the
// installation's HipChat server, a trusted server, or an allowed origin.
func (a *HipChatAddon) allowOrigin(w http.ResponseWriter, r *http.Request,
	inst *Installation) bool {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || !a.originAllowed(origin, inst) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	return true
}

func (a *HipChatAddon) originAllowed(origin string, inst *Installation) bool {
	if slices.Contains(a.cfg.allowedOrigins, origin) {
		return true
	}
	if inst != nil && (origin == originOf(inst.CapabilitiesURL) || origin == originOf(inst.APIURL)) {
		return true
	}
	for _, t := range a.trusted {
		if origin == t.scheme+"://"+t.host {
			return true
		}
	}
	return false
}

// corsPreflight answers a browser's preflight of a glance query. The
// preflight carries no token, so only origins trusted without an
// installation are allowed.
func (a *HipChatAddon) corsPreflight(w http.ResponseWriter, r *http.Request) {
	if a.allowOrigin(w, r, nil) {
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + strings.ToLower(u.Host)
}

// addPageRoutes serves the configurable page, the admin page, and the
// dialogs, web panels and external pages that have handlers, each behind
// signed-request verification.
func (a *HipChatAddon) addPageRoutes(s *routeSet) {
	c := &a.descriptor.Capabilities
	page := func(owner, rawURL string, h http.Handler) {
		if h != nil && rawURL != "" {
			s.add(owner, urlPath(rawURL),
				a.wrapRoute(a.verifier.middleware(h).ServeHTTP, "GET", "HEAD", "POST"),
				"GET", "HEAD", "POST")
		}
	}
	if c.Configurable != nil {
		page("capabilities.configurable", c.Configurable.URL, a.cfg.configurable)
	}
	if c.AdminPage != nil {
		page("capabilities.adminPage", c.AdminPage.URL, a.cfg.adminPage)
	}
	for _, key := range pageKeys(a.descriptor) {
		page("page "+key, pageURL(a.descriptor, key), a.cfg.pages[key])
	}
}

// Authenticate wraps h so that it runs only for requests HipChat signed
// for a known installation, with the JWT in an Authorization header ("JWT
// <token>" or "JWT token=<token>") or a signed_request query parameter.
// Others are answered 401 with "WWW-Authenticate: JWT". h reads what was
// verified with [InstallationFromContext], [UserIDFromContext],
// [RoomIDFromContext] and [ClaimsFromContext].
//
// Use it for the add-on's own endpoints that its pages call from the
// browser with a token from [HipChatAddon.PageToken].
func (a *HipChatAddon) Authenticate(h http.Handler) http.Handler {
	return a.verifier.middleware(h)
}

// JwtAuthHandlerFunc is [HipChatAddon.Authenticate] for a handler function,
// under the name the original API gave it.
func (a *HipChatAddon) JwtAuthHandlerFunc(h http.HandlerFunc) http.HandlerFunc {
	return a.verifier.middleware(h).ServeHTTP
}

// PageToken returns a fresh token for a page served behind signed-request
// verification to call back to the add-on from the browser, as
// "Authorization: JWT <token>". It carries the same installation, user and
// room as the request that loaded the page and expires after
// [PageTokenLifetime]. ctx must come from such a request.
func (a *HipChatAddon) PageToken(ctx context.Context) (string, error) {
	inst, ok := InstallationFromContext(ctx)
	if !ok {
		return "", fmt.Errorf("addon: no verified installation in context")
	}
	user, _ := UserIDFromContext(ctx)
	room, _ := RoomIDFromContext(ctx)
	return signToken(inst, user, room, a.cfg.now(), a.cfg.pageTokenTTL)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
