package addon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Errors of the install lifecycle that callers branch on.
var (
	// ErrInstallRefused is wrapped by errors that refuse an installation:
	// forged, from an untrusted server, not allowed by the descriptor, or
	// refused by the InstallCallback.
	ErrInstallRefused = errors.New("addon: installation refused")
	// ErrUninstallNotConfirmed is returned when HipChat still knows an
	// installation that an uninstall request asked to forget.
	ErrUninstallNotConfirmed = errors.New("addon: uninstall not confirmed by HipChat")
	// ErrUninstallKept is wrapped by the error of an UninstallCallback that
	// kept an installation.
	ErrUninstallKept = errors.New("addon: uninstall refused by callback")
)

// installRequest is what HipChat sends on install: POSTed to the callback
// URL, or served at installable_url in the client-side flow.
type installRequest struct {
	OAuthID         string  `json:"oauthId"`
	OAuthSecret     string  `json:"oauthSecret"`
	CapabilitiesURL string  `json:"capabilitiesUrl"`
	GroupID         flexInt `json:"groupId"`
	RoomID          flexInt `json:"roomId"`
}

// flexInt decodes a JSON number, a string holding one, or null (zero).
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" || s == `""` {
		*n = 0
		return nil
	}
	s = strings.Trim(s, `"`)
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return fmt.Errorf("not a non-negative integer: %.20q", s)
	}
	*n = flexInt(v)
	return nil
}

// hipchatCapabilities is the part of HipChat's own capabilities document
// the add-on reads.
type hipchatCapabilities struct {
	Links struct {
		Self string `json:"self"`
		API  string `json:"api"`
	} `json:"links"`
	Capabilities struct {
		OAuth2Provider struct {
			TokenURL string `json:"tokenUrl"`
		} `json:"oauth2Provider"`
		HipchatAPIProvider struct {
			URL string `json:"url"`
		} `json:"hipchatApiProvider"`
	} `json:"capabilities"`
}

// statusError carries the HTTP status a refused request is answered with.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func refuse(status int, format string, args ...any) error {
	args = append([]any{ErrInstallRefused}, args...)
	return &statusError{status, fmt.Errorf("%w: "+format, args...)}
}

// httpStatus is the status an error from the lifecycle is answered with.
func httpStatus(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	return http.StatusInternalServerError
}

// lockInstallation serialises the read-check-write of one installation, so
// that two installs, or an install and an uninstall, of one oauthId cannot
// interleave. Installs are rare, so one lock serves every oauthId.
func (a *HipChatAddon) lockInstallation() func() {
	a.installMu.Lock()
	return a.installMu.Unlock
}

// install checks an install request with every defence the protocol
// allows, proves its credentials and stores it. It reports whether a known
// installation was updated.
func (a *HipChatAddon) install(ctx context.Context, req installRequest) (*Installation, bool,
	error) {
	if req.OAuthID == "" || req.OAuthSecret == "" || req.CapabilitiesURL == "" || req.GroupID == 0 {
		return nil, false, refuse(http.StatusBadRequest,
			"oauthId, oauthSecret, capabilitiesUrl and groupId are required")
	}
	inst := &Installation{
		OAuthID:         req.OAuthID,
		OAuthSecret:     req.OAuthSecret,
		CapabilitiesURL: req.CapabilitiesURL,
		GroupID:         int(req.GroupID),
		RoomID:          int(req.RoomID),
	}

	// The descriptor says where the add-on may be installed.
	rules := a.descriptor.Capabilities.Installable
	if inst.IsGlobal() && !rules.GlobalAllowed() {
		return nil, false, refuse(http.StatusForbidden, "global installation not allowed")
	}
	if !inst.IsGlobal() && !rules.RoomAllowed() {
		return nil, false, refuse(http.StatusForbidden, "room installation not allowed")
	}

	if err := a.discoverEndpoints(ctx, inst); err != nil {
		return nil, false, err
	}

	// A known installation keeps its group and its server.
	if old, err := a.store.Get(ctx, inst.OAuthID); err == nil {
		if err := sameHome(old, inst); err != nil {
			return nil, false, err
		}
	} else if !errors.Is(err, ErrInstallationNotFound) {
		return nil, false, fmt.Errorf("addon: reading installation %s: %w", inst.OAuthID, err)
	}

	tok, err := a.proveCredentials(ctx, inst)
	if err != nil {
		return nil, false, err
	}
	if cb := a.cfg.installCallback; cb != nil {
		if err := cb(a, inst.Clone()); err != nil {
			return nil, false, refuse(http.StatusForbidden, "install callback: %v", err)
		}
	}
	stored, updated, err := a.storeInstallation(ctx, inst)
	if err == nil {
		a.tokens.put(tokenKey(stored, a.scopeKey), tok)
	}
	return stored, updated, err
}

// discoverEndpoints reads the token and API URLs from HipChat's
// capabilities document. Only a trusted server's document is fetched, it
// must describe itself at the URL it was fetched from, and every URL it
// names must be on a trusted server too.
func (a *HipChatAddon) discoverEndpoints(ctx context.Context, inst *Installation) error {
	if _, err := a.checkTrusted(inst.CapabilitiesURL); err != nil {
		return refuse(http.StatusForbidden, "capabilities URL: %v", err)
	}
	var caps hipchatCapabilities
	if err := a.fetchJSON(ctx, inst.CapabilitiesURL, &caps); err != nil {
		return &statusError{http.StatusBadGateway,
			fmt.Errorf("addon: reading HipChat's capabilities: %w", err)}
	}
	if caps.Links.Self != inst.CapabilitiesURL {
		return refuse(http.StatusForbidden,
			"capabilities document does not describe itself at capabilitiesUrl")
	}

	inst.TokenURL = caps.Capabilities.OAuth2Provider.TokenURL
	inst.APIURL = caps.Capabilities.HipchatAPIProvider.URL
	if inst.APIURL == "" {
		inst.APIURL = caps.Links.API
	}
	if inst.APIURL != "" && !strings.HasSuffix(inst.APIURL, "/") {
		inst.APIURL += "/"
	}
	if _, err := a.checkTrusted(inst.TokenURL); err != nil {
		return refuse(http.StatusForbidden, "token URL: %v", err)
	}
	if _, err := a.checkTrusted(inst.APIURL); err != nil {
		return refuse(http.StatusForbidden, "API URL: %v", err)
	}
	return nil
}

// proveCredentials requests a token with the installation's credentials,
// which must be for the group the install names.
func (a *HipChatAddon) proveCredentials(ctx context.Context, inst *Installation) (*accessToken,
	error) {
	tok, err := a.requestToken(ctx, inst, a.scopes)
	if errors.Is(err, ErrInstallationRevoked) {
		return nil, refuse(http.StatusForbidden, "credentials rejected by HipChat")
	}
	if err != nil {
		return nil, &statusError{http.StatusBadGateway, err}
	}
	if tok.groupID != 0 && tok.groupID != inst.GroupID {
		return nil, refuse(http.StatusForbidden,
			"token is for group %d, install names group %d", tok.groupID, inst.GroupID)
	}
	inst.GroupName = tok.groupName
	return tok, nil
}

// sameHome refuses to move a known installation to another group or
// HipChat server, which would let one installation take over another.
func sameHome(old, inst *Installation) error {
	if old.GroupID != inst.GroupID || old.CapabilitiesURL != inst.CapabilitiesURL {
		return refuse(http.StatusConflict,
			"oauthId %s is installed in another group or server", inst.OAuthID)
	}
	return nil
}

// storeInstallation adds or replaces an installation, keeping the time it
// was first installed.
func (a *HipChatAddon) storeInstallation(ctx context.Context,
	inst *Installation) (*Installation, bool, error) {
	unlock := a.lockInstallation()
	defer unlock()

	now := a.cfg.now().UTC()
	inst.InstalledAt, inst.UpdatedAt = now, now
	old, err := a.store.Get(ctx, inst.OAuthID)
	updated := err == nil
	if updated {
		if err := sameHome(old, inst); err != nil {
			return nil, false, err
		}
		inst.InstalledAt = old.InstalledAt
	}
	if err := a.store.Add(ctx, inst); err != nil {
		return nil, false, fmt.Errorf("addon: storing installation %s: %w", inst.OAuthID, err)
	}
	if updated && old.OAuthSecret != inst.OAuthSecret {
		a.tokens.forget(inst.OAuthID)
	}
	return inst.Clone(), updated, nil
}

// uninstall forgets an installation once HipChat confirms it no longer
// knows it: a token request with its credentials must answer 401.
func (a *HipChatAddon) uninstall(ctx context.Context, oauthID string) error {
	inst, err := a.store.Get(ctx, oauthID)
	if err != nil {
		if errors.Is(err, ErrInstallationNotFound) {
			return &statusError{http.StatusNotFound, err}
		}
		return err
	}
	_, err = a.requestToken(ctx, inst, a.scopes)
	switch {
	case err == nil:
		return &statusError{http.StatusForbidden,
			fmt.Errorf("%w: %s", ErrUninstallNotConfirmed, oauthID)}
	case !errors.Is(err, ErrInstallationRevoked):
		return &statusError{http.StatusServiceUnavailable,
			fmt.Errorf("addon: confirming uninstall of %s: %w", oauthID, err)}
	}
	return a.forget(ctx, inst)
}

// forget removes an installation HipChat no longer knows, giving the
// UninstallCallback the chance to keep it.
func (a *HipChatAddon) forget(ctx context.Context, inst *Installation) error {
	// Many calls may learn at once that HipChat forgot an installation;
	// the callbacks run once.
	_, err, _ := a.forgetting.Do(inst.OAuthID+"\x00"+inst.OAuthSecret, func() (any, error) {
		return nil, a.forgetOnce(ctx, inst)
	})
	return err
}

func (a *HipChatAddon) forgetOnce(ctx context.Context, inst *Installation) error {
	if _, err := a.store.Get(ctx, inst.OAuthID); errors.Is(err, ErrInstallationNotFound) {
		return nil // forgotten already
	}
	if cb := a.cfg.uninstallCallback; cb != nil {
		if err := cb(a, inst.Clone()); err != nil {
			a.cfg.logger.Infof("uninstall of %s kept by callback: %v", inst.OAuthID, err)
			return &statusError{http.StatusConflict, fmt.Errorf("%w: %v", ErrUninstallKept, err)}
		}
	}

	unlock := a.lockInstallation()
	cur, err := a.store.Get(ctx, inst.OAuthID)
	if err == nil && cur.OAuthSecret != inst.OAuthSecret {
		// Reinstalled with new credentials meanwhile: keep the new one.
		unlock()
		return nil
	}
	if err == nil {
		err = a.store.Delete(ctx, inst.OAuthID)
	}
	unlock()
	if errors.Is(err, ErrInstallationNotFound) {
		return nil // someone else forgot it first
	}
	if err != nil {
		return fmt.Errorf("addon: forgetting installation %s: %w", inst.OAuthID, err)
	}

	a.tokens.forget(inst.OAuthID)
	a.cfg.logger.Infof("uninstalled %s", inst.OAuthID)
	if cb := a.cfg.uninstalledCallback; cb != nil {
		c := inst.Clone()
		a.goCallback("uninstalled", c, func() { cb(a, c) })
	}
	return nil
}

// afterInstall logs and runs the callbacks of a stored installation.
func (a *HipChatAddon) afterInstall(inst *Installation, updated bool) {
	cb, what := a.cfg.installedCallback, "installed"
	if updated {
		cb, what = a.cfg.updatedCallback, "updated"
	}
	a.cfg.logger.Infof("%s %s", what, inst)
	if cb != nil {
		a.goCallback(what, inst, func() { cb(a, inst) })
	}
}

// handleInstall serves the callback URL: a POST installs or updates.
func (a *HipChatAddon) handleInstall(w http.ResponseWriter, r *http.Request) {
	var req installRequest
	if err := decodeJSONBody(r, &req); err != nil {
		a.answerError(w, r, "", &statusError{httpStatusOfBodyError(err), err})
		return
	}
	inst, updated, err := a.install(r.Context(), req)
	if err != nil {
		a.answerError(w, r, req.OAuthID, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	a.afterInstall(inst, updated)
}

// handleUninstallDelete serves DELETE {callbackUrl}/{oauthId}.
func (a *HipChatAddon) handleUninstallDelete(prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		oauthID := strings.TrimPrefix(r.URL.Path, prefix)
		if oauthID == "" || strings.Contains(oauthID, "/") {
			http.NotFound(w, r)
			return
		}
		if err := a.uninstall(r.Context(), oauthID); err != nil {
			a.answerError(w, r, oauthID, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleClientInstall serves installedUrl and updatedUrl: the browser
// brings installable_url, which holds the install request, and
// redirect_url, where it goes back to.
func (a *HipChatAddon) handleClientInstall(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var req installRequest
	if err := a.fetchInstallable(r.Context(), q.Get("installable_url"), &req); err != nil {
		a.answerError(w, r, "", err)
		return
	}
	inst, updated, err := a.install(r.Context(), req)
	if err != nil {
		a.answerError(w, r, req.OAuthID, err)
		return
	}
	a.redirectBack(w, r, q.Get("redirect_url"), "installed")
	a.afterInstall(inst, updated)
}

// handleClientUninstall serves uninstalledUrl.
func (a *HipChatAddon) handleClientUninstall(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var req installRequest
	if err := a.fetchInstallable(r.Context(), q.Get("installable_url"), &req); err != nil {
		a.answerError(w, r, "", err)
		return
	}
	if req.OAuthID == "" {
		a.answerError(w, r, "", refuse(http.StatusBadRequest, "installable has no oauthId"))
		return
	}
	err := a.uninstall(r.Context(), req.OAuthID)
	if err != nil && httpStatus(err) != http.StatusNotFound {
		a.answerError(w, r, req.OAuthID, err)
		return
	}
	a.redirectBack(w, r, q.Get("redirect_url"), "uninstalled")
}

func (a *HipChatAddon) fetchInstallable(ctx context.Context, raw string,
	req *installRequest) error {
	if raw == "" {
		return refuse(http.StatusBadRequest, "installable_url is required")
	}
	if _, err := a.checkTrusted(raw); err != nil {
		return refuse(http.StatusForbidden, "installable_url: %v", err)
	}
	if err := a.fetchJSON(ctx, raw, req); err != nil {
		return &statusError{http.StatusBadGateway, fmt.Errorf("addon: reading installable: %w", err)}
	}
	return nil
}

var doneTemplate = template.Must(template.New("done").Parse(
	`<!doctype html><title>{{.}}</title><p>The add-on was {{.}}. You can close this page.</p>`))

// redirectBack sends the browser to redirect_url when it is on a trusted
// HipChat server, and otherwise shows a short page: the add-on never
// redirects to a host it does not trust.
func (a *HipChatAddon) redirectBack(w http.ResponseWriter, r *http.Request, raw, what string) {
	if raw != "" {
		if u, err := a.checkTrustedHost(raw); err == nil {
			http.Redirect(w, r, u.String(), http.StatusFound)
			return
		}
		a.cfg.logger.Warnf("%s: not redirecting to an untrusted host", r.URL.Path)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	doneTemplate.Execute(w, what)
}

// checkTrustedHost is like checkTrusted but accepts any path on the host
// of a trusted server: HipChat's pages live outside its API's path.
func (a *HipChatAddon) checkTrustedHost(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return nil, ErrUntrustedServer
	}
	for _, t := range a.trusted {
		if u.Scheme == t.scheme && strings.ToLower(u.Host) == t.host {
			return u, nil
		}
	}
	return nil, ErrUntrustedServer
}

// decodeJSONBody decodes a request body read through the add-on's size
// limit.
func decodeJSONBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("addon: malformed JSON body: %w", err)
	}
	return nil
}

func httpStatusOfBodyError(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// answerError logs why a request failed and answers with its status and a
// short, generic text.
func (a *HipChatAddon) answerError(w http.ResponseWriter, r *http.Request, oauthID string,
	err error) {
	status := httpStatus(err)
	who := oauthID
	if who == "" {
		who = "-"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "JWT")
	}
	if status >= 500 {
		a.cfg.logger.Errorf("%s %s (%s): %d: %v", r.Method, r.URL.Path, who, status, err)
	} else {
		a.cfg.logger.Warnf("%s %s (%s): %d: %v", r.Method, r.URL.Path, who, status, err)
	}
	http.Error(w, http.StatusText(status), status)
}
