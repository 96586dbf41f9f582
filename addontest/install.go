package addontest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// Errors of the installation calls.
var (
	// ErrNotAllowed means the descriptor's installable.allowRoom or
	// allowGlobal forbids the requested kind of installation; HipChat
	// refuses it without calling the add-on.
	ErrNotAllowed = errors.New("addontest: descriptor does not allow this installation")
	// ErrUnknownInstallation means the fake has no live OAuth client with
	// the given oauthId.
	ErrUnknownInstallation = errors.New("addontest: unknown installation")
	// ErrNoCallback means the descriptor declares no URL for the step asked
	// for (callbackUrl, installedUrl, updatedUrl or uninstalledUrl).
	ErrNoCallback = errors.New("addontest: descriptor declares no callback for this step")
)

// InstallError reports that the add-on refused or botched an installation
// step.
type InstallError struct {
	// Op is "install", "update" or "uninstall".
	Op string
	// StatusCode is the add-on's answer; for a client-side flow, the status
	// of the add-on's page.
	StatusCode int
	// Reason says what was wrong.
	Reason string
}

// Error describes the failure without any credential.
func (e *InstallError) Error() string {
	return fmt.Sprintf("addontest: add-on failed %s: %s (status %d)", e.Op, e.Reason, e.StatusCode)
}

// InstallOptions say how to install an add-on.
type InstallOptions struct {
	// RoomID is the room to install in; zero installs globally.
	RoomID int
	// ClientSide uses the browser flow through installable.installedUrl
	// instead of POSTing to installable.callbackUrl.
	ClientSide bool
}

// Installation is the fake's view of one installation: the OAuth client it
// created for the add-on.
type Installation struct {
	OAuthID     string
	OAuthSecret string
	GroupID     int
	GroupName   string
	// RoomID is zero for a global installation.
	RoomID          int
	DescriptorURL   string
	CapabilitiesURL string
	// Key is the add-on's key, from its descriptor.
	Key string
	// Scopes are the API scopes the descriptor asked for.
	Scopes []string
}

// installable is the JSON behind a one-time installable_url.
type installable struct {
	payload []byte
	fetched bool
}

// Install installs the add-on whose descriptor is at descriptorURL, as
// HipChat does: it fetches and checks the descriptor, enforces allowRoom and
// allowGlobal ([ErrNotAllowed]), creates an OAuth client with a random
// oauthId and secret, and hands the credentials to the add-on.
//
// Server-side, it POSTs {oauthId, oauthSecret, capabilitiesUrl, groupId,
// roomId} to callbackUrl and requires 200, 201 or 204. Client-side, it sends
// the "browser" to installedUrl with installable_url (fetchable once) and
// redirect_url, and requires that the add-on fetched the former and
// redirected to the latter. The client exists while the add-on is called,
// so the add-on may request a token before it answers.
//
// When the add-on refuses, the client is removed and the error is an
// [*InstallError].
func (s *Server) Install(ctx context.Context, descriptorURL string,
	o InstallOptions) (*Installation, error) {
	d, err := s.fetchDescriptor(ctx, descriptorURL)
	if err != nil {
		return nil, err
	}
	if err := checkAllowed(d.installable(), o.RoomID); err != nil {
		return nil, err
	}

	c := s.newClient(descriptorURL, d, o.RoomID)
	if o.ClientSide {
		err = s.browserStep(ctx, "install", d.installable().InstalledURL, c, d)
	} else {
		err = s.postCredentials(ctx, "install", d.installable().CallbackURL, c, d)
	}
	if err != nil {
		s.Forget(c.id)
		return nil, err
	}
	return s.installation(c), nil
}

// Update tells the add-on about an update of its installation: it fetches
// the descriptor again and POSTs the same credentials to updateCallbackUrl,
// or to callbackUrl when the descriptor declares none. A refusal is an
// [*InstallError] and leaves the installation in place.
func (s *Server) Update(ctx context.Context, oauthID string) error {
	c, d, err := s.refresh(ctx, oauthID)
	if err != nil {
		return err
	}
	inst := d.installable()
	target := inst.UpdateCallbackURL
	if target == "" {
		target = inst.CallbackURL
	}
	return s.postCredentials(ctx, "update", target, c, d)
}

// UpdateClientSide is like [Server.Update] through the browser flow at
// updatedUrl, or installedUrl when the descriptor declares none.
func (s *Server) UpdateClientSide(ctx context.Context, oauthID string) error {
	c, d, err := s.refresh(ctx, oauthID)
	if err != nil {
		return err
	}
	inst := d.installable()
	target := inst.UpdatedURL
	if target == "" {
		target = inst.InstalledURL
	}
	return s.browserStep(ctx, "update", target, c, d)
}

// Uninstall removes an installation the way HipChat does: it forgets the
// OAuth client first (its tokens stop working and the token endpoint
// answers 401 for it), then sends DELETE {callbackUrl}/{oauthId}. The
// installation is gone even when the add-on answers with an error, which
// is returned as an [*InstallError], or when the descriptor declares no
// callbackUrl ([ErrNoCallback]).
func (s *Server) Uninstall(ctx context.Context, oauthID string) error {
	c := s.forget(oauthID)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrUnknownInstallation, oauthID)
	}
	cb := c.desc.installable().CallbackURL
	if cb == "" {
		return ErrNoCallback
	}
	target, err := c.desc.resolve(join(cb, url.PathEscape(c.id)))
	if err != nil {
		return err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, target, nil)
	if err != nil {
		return fmt.Errorf("addontest: uninstall: %w", err)
	}
	return s.expect2xx(req, "uninstall")
}

// UninstallClientSide forgets the OAuth client, then sends the browser to
// uninstalledUrl with installable_url (which returns the install JSON, once)
// and redirect_url, and requires the add-on to redirect there.
func (s *Server) UninstallClientSide(ctx context.Context, oauthID string) error {
	c := s.forget(oauthID)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrUnknownInstallation, oauthID)
	}
	return s.browserStep(ctx, "uninstall", c.desc.installable().UninstalledURL, c, c.desc)
}

// Forget makes HipChat forget an installation without telling the add-on,
// as when it was removed while the add-on was unreachable: the client's
// tokens are revoked and the token endpoint answers 401 for it. Forgetting
// an unknown oauthId does nothing.
func (s *Server) Forget(oauthID string) { s.forget(oauthID) }

// Installation returns the live installation with oauthID.
func (s *Server) Installation(oauthID string) (*Installation, bool) {
	s.mu.Lock()
	c := s.clients[oauthID]
	s.mu.Unlock()
	if c == nil {
		return nil, false
	}
	return s.installation(c), true
}

// Installations returns the live installations, in no particular order.
func (s *Server) Installations() []*Installation {
	s.mu.Lock()
	cs := make([]*oauthClient, 0, len(s.clients))
	for _, c := range s.clients {
		cs = append(cs, c)
	}
	s.mu.Unlock()

	out := make([]*Installation, 0, len(cs))
	for _, c := range cs {
		out = append(out, s.installation(c))
	}
	return out
}

// installation describes c.
func (s *Server) installation(c *oauthClient) *Installation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &Installation{
		OAuthID: c.id, OAuthSecret: c.secret, GroupID: c.groupID,
		GroupName: s.groupName, RoomID: c.roomID, DescriptorURL: c.descriptorURL,
		CapabilitiesURL: s.CapabilitiesURL(), Key: c.desc.Key, Scopes: c.desc.scopes(),
	}
}

// fetchDescriptor GETs and parses the add-on's descriptor.
func (s *Server) fetchDescriptor(ctx context.Context, descriptorURL string) (*descriptor, error) {
	u, err := url.Parse(descriptorURL)
	if err != nil {
		return nil, fmt.Errorf("addontest: descriptor url: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, descriptorURL, nil)
	if err != nil {
		return nil, fmt.Errorf("addontest: descriptor: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("addontest: fetching descriptor: %w", err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("addontest: reading descriptor: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: fetched with status %d", ErrBadDescriptor, resp.StatusCode)
	}
	return parseDescriptor(body, u)
}

// checkAllowed applies allowRoom and allowGlobal, which default to true.
func checkAllowed(inst installableCap, roomID int) error {
	if roomID != 0 && inst.AllowRoom != nil && !*inst.AllowRoom {
		return fmt.Errorf("%w: allowRoom is false", ErrNotAllowed)
	}
	if roomID == 0 && inst.AllowGlobal != nil && !*inst.AllowGlobal {
		return fmt.Errorf("%w: allowGlobal is false", ErrNotAllowed)
	}
	return nil
}

// newClient creates and registers an OAuth client for an installation.
func (s *Server) newClient(descriptorURL string, d *descriptor, roomID int) *oauthClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &oauthClient{
		id: newUUID(), secret: randomString(20), groupID: s.groupID,
		roomID: roomID, descriptorURL: descriptorURL, desc: d,
	}
	for range d.Capabilities.Webhooks {
		s.seq++
		c.webhookIDs = append(c.webhookIDs, s.seq)
	}
	s.clients[c.id] = c
	return c
}

// refresh fetches the descriptor of a live installation again and stores
// it.
func (s *Server) refresh(ctx context.Context, oauthID string) (*oauthClient, *descriptor, error) {
	c := s.lookupClient(oauthID)
	if c == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownInstallation, oauthID)
	}
	d, err := s.fetchDescriptor(ctx, c.descriptorURL)
	if err != nil {
		return nil, nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	n := *c
	n.desc = d
	n.webhookIDs = slices.Clone(c.webhookIDs)
	for len(n.webhookIDs) < len(d.Capabilities.Webhooks) {
		s.seq++
		n.webhookIDs = append(n.webhookIDs, s.seq)
	}
	s.clients[c.id] = &n
	return &n, d, nil
}

// forget removes a live client and revokes its tokens, returning it.
func (s *Server) forget(oauthID string) *oauthClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[oauthID]
	if c == nil {
		return nil
	}
	delete(s.clients, oauthID)
	s.forgotten[oauthID] = c
	for tok, at := range s.tokens {
		if at.clientID == oauthID {
			delete(s.tokens, tok)
		}
	}
	return c
}

// credentials is the JSON HipChat hands the add-on on install and update.
func (s *Server) credentials(c *oauthClient) []byte {
	m := map[string]any{
		"oauthId":         c.id,
		"oauthSecret":     c.secret,
		"capabilitiesUrl": s.CapabilitiesURL(),
		"groupId":         c.groupID,
	}
	if c.roomID != 0 {
		m["roomId"] = c.roomID
	}
	b, _ := json.Marshal(m)
	return b
}

// postCredentials POSTs the credentials of c to the callback cb.
func (s *Server) postCredentials(ctx context.Context, op, cb string, c *oauthClient,
	d *descriptor) error {
	if cb == "" {
		return fmt.Errorf("%w: %s needs callbackUrl", ErrNoCallback, op)
	}
	target, err := d.resolve(cb)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target,
		bytes.NewReader(s.credentials(c)))
	if err != nil {
		return fmt.Errorf("addontest: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	return s.expect2xx(req, op)
}

// expect2xx sends req and requires 200, 201 or 204.
func (s *Server) expect2xx(req *http.Request, op string) error {
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("addontest: %s: %w", op, err)
	}
	drain(resp)
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent:
		return nil
	}
	return &InstallError{Op: op, StatusCode: resp.StatusCode, Reason: "refused"}
}

// browserStep plays the browser of a client-side flow: it sends it to page
// with a one-time installable_url and a redirect_url, and requires that the
// add-on fetched the former and redirected to the latter.
func (s *Server) browserStep(ctx context.Context, op, page string, c *oauthClient,
	d *descriptor) error {
	if page == "" {
		return fmt.Errorf("%w: client-side %s", ErrNoCallback, op)
	}
	target, err := d.resolve(page)
	if err != nil {
		return err
	}
	nonce := randomString(16)
	s.mu.Lock()
	s.installables[nonce] = &installable{payload: s.credentials(c)}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.installables, nonce)
		s.mu.Unlock()
	}()

	redirect := s.URL + RedirectPath + "?flow=" + nonce
	status, location, err := s.visit(ctx, op, target, url.Values{
		"installable_url": {s.URL + InstallablePath + nonce},
		"redirect_url":    {redirect},
	})
	if err != nil {
		return err
	}
	return s.checkBrowserStep(op, nonce, status, location, redirect)
}

// visit GETs page with extra query parameters, without following a
// redirect, and returns the status and the absolute Location.
func (s *Server) visit(ctx context.Context, op, page string, q url.Values) (int, string, error) {
	u, err := url.Parse(page)
	if err != nil {
		return 0, "", fmt.Errorf("addontest: %s: %w", op, err)
	}
	uq := u.Query()
	for k, v := range q {
		uq[k] = v
	}
	u.RawQuery = uq.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, "", fmt.Errorf("addontest: %s: %w", op, err)
	}
	resp, err := s.browser.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("addontest: %s: %w", op, err)
	}
	drain(resp)
	loc, err := resp.Location()
	if err != nil {
		return resp.StatusCode, "", nil
	}
	return resp.StatusCode, loc.String(), nil
}

// checkBrowserStep checks the outcome of a client-side flow.
func (s *Server) checkBrowserStep(op, nonce string, status int, location,
	redirect string) error {
	s.mu.Lock()
	fetched := s.installables[nonce].fetched
	s.mu.Unlock()

	switch {
	case status < 300 || status > 399:
		return &InstallError{Op: op, StatusCode: status, Reason: "no redirect to redirect_url"}
	case location != redirect:
		return &InstallError{Op: op, StatusCode: status, Reason: "redirect to the wrong url"}
	case !fetched:
		return &InstallError{Op: op, StatusCode: status, Reason: "installable_url not fetched"}
	}
	return nil
}

// serveInstallable serves the JSON behind a one-time installable_url.
func (s *Server) serveInstallable(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	in := s.installables[r.PathValue("nonce")]
	ok := in != nil && !in.fetched
	if ok {
		in.fetched = true
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", "unknown or used installable url")
		return
	}

	var body struct {
		OAuthID string `json:"oauthId"`
	}
	_ = json.Unmarshal(in.payload, &body)
	setRequestClient(r, body.OAuthID)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(in.payload)))
	_, _ = w.Write(in.payload)
}

// drain reads and closes a response body so the connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
}
