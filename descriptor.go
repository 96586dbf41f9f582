package addon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// CapabilitiesDescriptor is the add-on's capabilities descriptor: the JSON
// document the add-on serves at Links.Self and HipChat fetches when someone
// installs the add-on. Its fields map one to one onto HipChat's wire names.
//
// A descriptor is plain data and is not safe for concurrent modification;
// [CapabilitiesDescriptor.Clone] gives a copy that shares nothing with it.
// [CapabilitiesDescriptor.Validate] reports what HipChat, or this library,
// would reject.
type CapabilitiesDescriptor struct {
	// Key identifies the add-on, for example "com.example.echo". It is
	// required and at most 100 characters long.
	Key string `json:"key"`
	// Name and Description are shown to people installing the add-on.
	// Both are required.
	Name        string `json:"name"`
	Description string `json:"description"`
	// APIVersion is the minimum HipChat Connect API version the add-on
	// needs, as "server:client" (HipChat's default is "1:1").
	APIVersion string `json:"apiVersion,omitempty"`
	Links      Links  `json:"links"`
	// Vendor names who makes the add-on; nil leaves it out.
	Vendor       *Vendor      `json:"vendor,omitempty"`
	Capabilities Capabilities `json:"capabilities"`
}

// Links holds the descriptor's own address (Self, required: an absolute
// http or https URL where the descriptor is served) and an optional
// Homepage. Every URL the add-on serves must share Self's scheme and host.
type Links struct {
	Self     string `json:"self"`
	Homepage string `json:"homepage,omitempty"`
}

// Vendor names the add-on's maker. Name is required when a vendor is given;
// URL is optional.
type Vendor struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Capabilities lists what the add-on does inside HipChat. Every member is
// optional; a nil pointer or an empty slice is left out of the JSON.
type Capabilities struct {
	HipchatAPIConsumer *HipchatAPIConsumer `json:"hipchatApiConsumer,omitempty"`
	Installable        *Installable        `json:"installable,omitempty"`
	Configurable       *Configurable       `json:"configurable,omitempty"`
	AdminPage          *AdminPage          `json:"adminPage,omitempty"`
	Webhooks           []Webhook           `json:"webhook,omitempty"`
	Glances            []Glance            `json:"glance,omitempty"`
	WebPanels          []WebPanel          `json:"webPanel,omitempty"`
	Dialogs            []Dialog            `json:"dialog,omitempty"`
	Actions            []Action            `json:"action,omitempty"`
	ExternalPages      []ExternalPage      `json:"externalPage,omitempty"`
}

// HipchatAPIConsumer declares that the add-on calls HipChat's REST API.
// Scopes (required, see the Scope constants) are what people installing
// the add-on are asked to grant; FromName and Avatar label what the add-on
// posts.
type HipchatAPIConsumer struct {
	Scopes   []string `json:"scopes"`
	FromName string   `json:"fromName,omitempty"`
	Avatar   *Icon    `json:"avatar,omitempty"`
}

// Installable declares that the add-on can be installed, where, and the
// URLs HipChat uses to install, update and uninstall it.
//
// AllowGlobal and AllowRoom are pointers because HipChat's default for
// both is true: nil means true, and [Bool] makes an explicit value.
// Use [Installable.GlobalAllowed] and [Installable.RoomAllowed] to read
// them.
type Installable struct {
	AllowGlobal *bool `json:"allowGlobal,omitempty"`
	AllowRoom   *bool `json:"allowRoom,omitempty"`

	// CallbackURL receives the server-side install POST, and DELETE
	// {CallbackURL}/{oauthId} on uninstall. UpdateCallbackURL, when set,
	// receives the POST for an update instead.
	CallbackURL       string `json:"callbackUrl,omitempty"`
	UpdateCallbackURL string `json:"updateCallbackUrl,omitempty"`

	// InstalledURL, UpdatedURL and UninstalledURL are where HipChat sends
	// the browser during a client-side install, update and uninstall.
	InstalledURL   string `json:"installedUrl,omitempty"`
	UpdatedURL     string `json:"updatedUrl,omitempty"`
	UninstalledURL string `json:"uninstalledUrl,omitempty"`
}

// GlobalAllowed reports whether the add-on may be installed for a whole
// group. It is true when i or i.AllowGlobal is nil, as in HipChat.
func (i *Installable) GlobalAllowed() bool {
	return i == nil || i.AllowGlobal == nil || *i.AllowGlobal
}

// RoomAllowed reports whether the add-on may be installed in a single room.
// It is true when i or i.AllowRoom is nil, as in HipChat.
func (i *Installable) RoomAllowed() bool {
	return i == nil || i.AllowRoom == nil || *i.AllowRoom
}

// Bool returns a pointer to a new bool holding b, for the optional boolean
// members of a descriptor such as [Installable.AllowGlobal].
func Bool(b bool) *bool { return &b }

// Configurable declares a configuration page, which HipChat shows in an
// iframe. URL is required.
type Configurable struct {
	URL string `json:"url"`
}

// AdminPage declares an administration page reached from HipChat's menu.
// URL is required.
type AdminPage struct {
	URL string `json:"url"`
}

// Webhook subscribes the add-on to a HipChat event (see the Event
// constants), delivered as a POST to URL.
//
// Pattern is a regular expression matched against the message text and is
// allowed on message events only. Authentication is [WebhookAuthJWT] or
// [WebhookAuthNone]; HipChat's default when it is empty is "none", so the
// descriptor the library serves always states "jwt" for an empty value.
// Key, when set, is 1-40 characters and unique among the webhooks.
type Webhook struct {
	Event          string `json:"event"`
	URL            string `json:"url"`
	Pattern        string `json:"pattern,omitempty"`
	Name           string `json:"name,omitempty"`
	Key            string `json:"key,omitempty"`
	Authentication string `json:"authentication,omitempty"`
}

// Glance is a small status shown in HipChat's sidebar. HipChat fetches its
// content from QueryURL; Target is what opens when the glance is clicked,
// the key of a web panel, dialog or external page of this descriptor.
// Weight orders glances; zero leaves HipChat's default (100).
type Glance struct {
	Key        string      `json:"key"`
	Name       I18n        `json:"name"`
	QueryURL   string      `json:"queryUrl,omitempty"`
	Target     *Target     `json:"target,omitempty"`
	Icon       Icon        `json:"icon"`
	Weight     int         `json:"weight,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// WebPanel is a page of the add-on shown in HipChat's sidebar, at
// Location ([LocationSidebarRight]). Weight zero leaves HipChat's default.
type WebPanel struct {
	Key      string `json:"key"`
	Name     I18n   `json:"name,omitzero"`
	Location string `json:"location"`
	URL      string `json:"url"`
	Icon     *Icon  `json:"icon,omitempty"`
	Weight   int    `json:"weight,omitempty"`
}

// Dialog is a page of the add-on that HipChat shows in a modal dialog,
// opened by an action, a glance or the add-on's own pages.
type Dialog struct {
	Key     string         `json:"key"`
	Title   I18n           `json:"title,omitzero"`
	URL     string         `json:"url"`
	Options *DialogOptions `json:"options,omitempty"`
}

// DialogOptions shapes a dialog: its Style ([DialogStyleNormal] or
// [DialogStyleWarning]), its buttons, size, hint text and filter box.
type DialogOptions struct {
	Style            string         `json:"style,omitempty"`
	PrimaryAction    *DialogAction  `json:"primaryAction,omitempty"`
	SecondaryActions []DialogAction `json:"secondaryActions,omitempty"`
	Size             *DialogSize    `json:"size,omitempty"`
	Hint             *I18n          `json:"hint,omitempty"`
	Filter           *DialogFilter  `json:"filter,omitempty"`
}

// DialogAction is a button of a dialog. Key and Name are required; a nil
// Enabled leaves HipChat's default (enabled).
type DialogAction struct {
	Key     string `json:"key"`
	Name    I18n   `json:"name"`
	Enabled *bool  `json:"enabled,omitempty"`
}

// DialogSize is a dialog's size as CSS lengths, such as "600px" or "50%".
type DialogSize struct {
	Width  string `json:"width,omitempty"`
	Height string `json:"height,omitempty"`
}

// DialogFilter adds a filter box to a dialog, with Placeholder as its
// placeholder text.
type DialogFilter struct {
	Placeholder I18n `json:"placeholder,omitzero"`
}

// Action adds an entry to a HipChat menu at Location (see the Location
// constants) that opens Target, the key of a dialog, web panel or external
// page of this descriptor. Name is 1-100 characters.
type Action struct {
	Key        string      `json:"key"`
	Name       I18n        `json:"name"`
	Location   string      `json:"location"`
	Target     Target      `json:"target"`
	Weight     int         `json:"weight,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// ExternalPage is a page of the add-on that HipChat opens outside its own
// window, targeted by actions.
type ExternalPage struct {
	Key  string `json:"key"`
	Name I18n   `json:"name,omitzero"`
	URL  string `json:"url"`
}

// I18n is a piece of display text: Value is the default text and I18n an
// optional key HipChat uses to look up a translation.
type I18n struct {
	Value string `json:"value"`
	I18n  string `json:"i18n,omitempty"`
}

// Icon is an image given by URL, with an optional double-resolution URL2x
// (the wire name is "url@2x").
type Icon struct {
	URL   string `json:"url"`
	URL2x string `json:"url@2x,omitempty"`
}

// Target names the module a glance or an action opens, by its key, with
// optional Options for it. It marshals as a plain JSON string when Options
// is empty and as {"key", "options"} otherwise, and unmarshals from either
// form.
type Target struct {
	Key     string
	Options map[string]any
}

// targetObject is the object form of a Target on the wire.
type targetObject struct {
	Key     string         `json:"key"`
	Options map[string]any `json:"options,omitempty"`
}

// MarshalJSON implements [json.Marshaler].
func (t Target) MarshalJSON() ([]byte, error) {
	if len(t.Options) == 0 {
		return json.Marshal(t.Key)
	}
	return json.Marshal(targetObject(t))
}

// UnmarshalJSON implements [json.Unmarshaler]. It accepts a string, an
// object with "key" and "options", or null (which changes nothing).
func (t *Target) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '"':
		var key string
		if err := json.Unmarshal(data, &key); err != nil {
			return fmt.Errorf("addon: target: %w", err)
		}
		*t = Target{Key: key}
		return nil
	case len(data) > 0 && data[0] == '{':
		var obj targetObject
		if err := json.Unmarshal(data, &obj); err != nil {
			return fmt.Errorf("addon: target: %w", err)
		}
		*t = Target(obj)
		return nil
	}
	return fmt.Errorf("addon: target: want a string or an object, got %.20s", data)
}

// Condition decides when a glance or an action is shown. It has one of two
// forms: a single condition (Condition, a name from the Condition
// constants, with optional Params and Invert), or a group (Conditions
// combined by Type, [ConditionTypeAnd] or [ConditionTypeOr]; empty means
// "and").
type Condition struct {
	Condition  string         `json:"condition,omitempty"`
	Params     map[string]any `json:"params,omitempty"`
	Invert     bool           `json:"invert,omitempty"`
	Conditions []Condition    `json:"conditions,omitempty"`
	Type       string         `json:"type,omitempty"`
}

// Scopes of the HipChat REST API an add-on can ask for in
// [HipchatAPIConsumer.Scopes].
const (
	ScopeAdminGroup       = "admin_group"       // group administration
	ScopeAdminRoom        = "admin_room"        // room administration, run-time webhooks
	ScopeImportData       = "import_data"       // importing history
	ScopeManageRooms      = "manage_rooms"      // creating, changing and removing rooms
	ScopeSendMessage      = "send_message"      // private one-to-one messages
	ScopeSendNotification = "send_notification" // room notifications and glance updates
	ScopeViewGroup        = "view_group"        // users, rooms and group information
	ScopeViewMessages     = "view_messages"     // message history
	ScopeViewRoom         = "view_room"         // room information and participants
)

// Events a [Webhook] can subscribe to.
const (
	EventRoomArchived     = "room_archived"
	EventRoomCreated      = "room_created"
	EventRoomDeleted      = "room_deleted"
	EventRoomEnter        = "room_enter"
	EventRoomExit         = "room_exit"
	EventRoomFileUpload   = "room_file_upload"
	EventRoomMessage      = "room_message"
	EventRoomNotification = "room_notification"
	EventRoomTopicChange  = "room_topic_change"
	EventRoomUnarchived   = "room_unarchived"
)

// Values of [Webhook.Authentication]. WebhookAuthJWT makes HipChat sign
// each delivery; WebhookAuthNone sends it unsigned, so anyone could forge
// one, and [CapabilitiesDescriptor.Validate] reports it.
const (
	WebhookAuthJWT  = "jwt"
	WebhookAuthNone = "none"
)

// Locations: LocationSidebarRight for a [WebPanel]; LocationMessageAction
// (a message's menu) and LocationInputAction (the chat input's menu) for an
// [Action].
const (
	LocationSidebarRight  = "hipchat.sidebar.right"
	LocationMessageAction = "hipchat.message.action"
	LocationInputAction   = "hipchat.input.action"
)

// Styles of a dialog, for [DialogOptions.Style].
const (
	DialogStyleNormal  = "normal"
	DialogStyleWarning = "warning"
)

// Names of the single conditions HipChat evaluates, for
// [Condition.Condition].
const (
	ConditionRoomIsPublic             = "room_is_public"
	ConditionUserIsAdmin              = "user_is_admin"
	ConditionUserIsGuest              = "user_is_guest"
	ConditionUserIsRoomOwner          = "user_is_room_owner"
	ConditionMessageMatches           = "message_matches"
	ConditionMessageContainsLink      = "message_contains_link"
	ConditionMessageSentByCurrentUser = "message_sent_by_current_user"
	ConditionCardMatches              = "card_matches"
)

// Ways to combine a group of conditions, for [Condition.Type].
const (
	ConditionTypeAnd = "and"
	ConditionTypeOr  = "or"
)

// Limits Validate applies. HipChat documents 1-40 characters for module
// keys and 1-100 for an action's name; the add-on key limit is this
// library's own generous bound.
const (
	maxAddonKeyLen      = 100
	maxModuleKeyLen     = 40
	maxActionNameLen    = 100
	maxConditionNesting = 16
)

var (
	knownScopes = enumSet(ScopeAdminGroup, ScopeAdminRoom, ScopeImportData,
		ScopeManageRooms, ScopeSendMessage, ScopeSendNotification,
		ScopeViewGroup, ScopeViewMessages, ScopeViewRoom)
	knownEvents = enumSet(EventRoomArchived, EventRoomCreated, EventRoomDeleted,
		EventRoomEnter, EventRoomExit, EventRoomFileUpload, EventRoomMessage,
		EventRoomNotification, EventRoomTopicChange, EventRoomUnarchived)
	messageEvents   = enumSet(EventRoomMessage, EventRoomNotification)
	actionLocations = enumSet(LocationMessageAction, LocationInputAction)
	panelLocations  = enumSet(LocationSidebarRight)
	dialogStyles    = enumSet("", DialogStyleNormal, DialogStyleWarning)
	knownConditions = enumSet(ConditionRoomIsPublic, ConditionUserIsAdmin,
		ConditionUserIsGuest, ConditionUserIsRoomOwner,
		ConditionMessageMatches, ConditionMessageContainsLink,
		ConditionMessageSentByCurrentUser, ConditionCardMatches)

	// cssLengthPattern matches the CSS lengths HipChat's dialogs took.
	cssLengthPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(px|%|em|rem|vw|vh)?$`)
)

// enumSet makes a lookup table of an enumeration's values.
func enumSet(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

// Clone returns a deep copy of d that shares no slice, map or pointer with
// it. Condition params and target options are copied through nested
// map[string]any and []any values, as encoding/json builds them; any other
// value inside them is copied shallowly. Clone of nil is nil.
func (d *CapabilitiesDescriptor) Clone() *CapabilitiesDescriptor {
	if d == nil {
		return nil
	}
	c := *d
	if d.Vendor != nil {
		v := *d.Vendor
		c.Vendor = &v
	}
	c.Capabilities = d.Capabilities.clone()
	return &c
}

// normalized returns a deep copy of d as the library serves it: every
// webhook without an authentication says "jwt", because HipChat's own
// default is "none".
func (d *CapabilitiesDescriptor) normalized() *CapabilitiesDescriptor {
	c := d.Clone()
	if c == nil {
		return nil
	}
	for i := range c.Capabilities.Webhooks {
		if c.Capabilities.Webhooks[i].Authentication == "" {
			c.Capabilities.Webhooks[i].Authentication = WebhookAuthJWT
		}
	}
	return c
}

func (c Capabilities) clone() Capabilities {
	if a := c.HipchatAPIConsumer; a != nil {
		ac := *a
		ac.Scopes = slices.Clone(a.Scopes)
		ac.Avatar = cloneIcon(a.Avatar)
		c.HipchatAPIConsumer = &ac
	}
	if i := c.Installable; i != nil {
		ic := *i
		ic.AllowGlobal = cloneBool(i.AllowGlobal)
		ic.AllowRoom = cloneBool(i.AllowRoom)
		c.Installable = &ic
	}
	c.Configurable = clonePtr(c.Configurable)
	c.AdminPage = clonePtr(c.AdminPage)
	c.Webhooks = slices.Clone(c.Webhooks)
	c.Glances = cloneEach(c.Glances, Glance.clone)
	c.WebPanels = cloneEach(c.WebPanels, WebPanel.clone)
	c.Dialogs = cloneEach(c.Dialogs, Dialog.clone)
	c.Actions = cloneEach(c.Actions, Action.clone)
	c.ExternalPages = slices.Clone(c.ExternalPages)
	return c
}

func (g Glance) clone() Glance {
	if g.Target != nil {
		t := g.Target.clone()
		g.Target = &t
	}
	g.Conditions = cloneConditions(g.Conditions)
	return g
}

func (p WebPanel) clone() WebPanel {
	p.Icon = cloneIcon(p.Icon)
	return p
}

func (d Dialog) clone() Dialog {
	if o := d.Options; o != nil {
		oc := *o
		if o.PrimaryAction != nil {
			pa := o.PrimaryAction.clone()
			oc.PrimaryAction = &pa
		}
		oc.SecondaryActions = cloneEach(o.SecondaryActions, DialogAction.clone)
		oc.Size = clonePtr(o.Size)
		oc.Hint = clonePtr(o.Hint)
		oc.Filter = clonePtr(o.Filter)
		d.Options = &oc
	}
	return d
}

func (a DialogAction) clone() DialogAction {
	a.Enabled = cloneBool(a.Enabled)
	return a
}

func (a Action) clone() Action {
	a.Target = a.Target.clone()
	a.Conditions = cloneConditions(a.Conditions)
	return a
}

func (t Target) clone() Target {
	t.Options = cloneAnyMap(t.Options)
	return t
}

func cloneConditions(cs []Condition) []Condition {
	return cloneEach(cs, func(c Condition) Condition {
		c.Params = cloneAnyMap(c.Params)
		c.Conditions = cloneConditions(c.Conditions)
		return c
	})
}

func cloneEach[T any](s []T, clone func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = clone(v)
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func cloneBool(b *bool) *bool { return clonePtr(b) }

func cloneIcon(i *Icon) *Icon { return clonePtr(i) }

func cloneAnyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneAny(v)
	}
	return out
}

func cloneAny(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneAnyMap(v)
	case []any:
		return cloneEach(v, cloneAny)
	}
	return v
}

// DescriptorError is returned by [CapabilitiesDescriptor.Validate] and
// lists every problem found. Each problem starts with the JSON path of the
// member at fault, such as "capabilities.webhook[2].url: ...".
type DescriptorError struct {
	Problems []string
}

// Error joins the problems into one line.
func (e *DescriptorError) Error() string {
	return "addon: invalid capabilities descriptor: " + strings.Join(e.Problems, "; ")
}

// Validate checks d against HipChat's rules and this library's own, and
// returns a *DescriptorError listing every problem at once, or nil. It
// contacts nothing.
//
// Beyond required members and known enumeration values, it checks that
// module keys are unique (dialog, web panel and external page keys share
// one namespace, since actions and glances target them by key), that every
// target names such a module of this descriptor, that webhook patterns
// compile (with Go's regexp syntax, so constructs such as look-ahead that
// Go lacks are reported) and appear on message events only, and that every
// URL HipChat calls or loads from the add-on is an absolute http or https
// URL with the scheme and host of Links.Self.
//
// A few checks are stricter than HipChat was, because the add-on could not
// work otherwise: a webhook with authentication "none" is reported (the
// library verifies every webhook's signature, so unsigned deliveries would
// be refused), a glance needs a queryUrl, and dialog sizes must be plain
// CSS lengths such as "600px" or "50%". Use [errors.As] to reach the
// *DescriptorError.
func (d *CapabilitiesDescriptor) Validate() error {
	return d.validate(false)
}

// validate is Validate, except that allowUnauthenticatedWebhooks accepts
// webhooks whose authentication is "none".
func (d *CapabilitiesDescriptor) validate(allowUnauthenticatedWebhooks bool) error {
	if d == nil {
		return &DescriptorError{Problems: []string{"descriptor: is nil"}}
	}
	v := &descriptorValidator{allowNone: allowUnauthenticatedWebhooks}
	v.checkTop(d)

	c := &d.Capabilities
	v.checkAPIConsumer(c.HipchatAPIConsumer)
	v.checkInstallable(c.Installable)
	if c.Configurable != nil {
		v.servedURL("capabilities.configurable.url", c.Configurable.URL, true)
	}
	if c.AdminPage != nil {
		v.servedURL("capabilities.adminPage.url", c.AdminPage.URL, true)
	}
	v.checkModules(c)

	if len(v.problems) > 0 {
		return &DescriptorError{Problems: v.problems}
	}
	return nil
}

// descriptorValidator collects the problems of one descriptor.
type descriptorValidator struct {
	allowNone bool
	self      *url.URL // the parsed links.self, nil when it is invalid
	problems  []string

	// pages maps the keys of dialogs, web panels and external pages to
	// the path of the first module that used them.
	pages map[string]string
}

func (v *descriptorValidator) addf(path, format string, args ...any) {
	v.problems = append(v.problems, path+": "+fmt.Sprintf(format, args...))
}

// required reports a problem when s is empty, and whether it was set.
func (v *descriptorValidator) required(path, s string) bool {
	if s == "" {
		v.addf(path, "is required")
		return false
	}
	return true
}

// length checks that s is between lo and hi characters long.
func (v *descriptorValidator) length(path, s string, lo, hi int) {
	switch n := utf8.RuneCountInString(s); {
	case n == 0 && lo > 0:
		v.addf(path, "is required")
	case n < lo:
		v.addf(path, "must be at least %d characters", lo)
	case n > hi:
		v.addf(path, "must be at most %d characters, not %d", hi, n)
	}
}

func (v *descriptorValidator) moduleKey(path, key string) {
	v.length(path, key, 1, maxModuleKeyLen)
}

// absURL checks that raw is an absolute http or https URL and returns it
// parsed, or nil after reporting a problem.
func (v *descriptorValidator) absURL(path, raw string) *url.URL {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.addf(path, "is not a valid URL")
		return nil
	case u.Scheme != "http" && u.Scheme != "https":
		v.addf(path, "must be an absolute http or https URL")
		return nil
	case u.Host == "" || u.Hostname() == "":
		v.addf(path, "must be an absolute URL with a host")
		return nil
	}
	return u
}

// optionalURL checks raw with absURL when it is set.
func (v *descriptorValidator) optionalURL(path, raw string) {
	if raw != "" {
		v.absURL(path, raw)
	}
}

// servedURL checks a URL the add-on itself serves: absolute, and on the
// scheme and host of links.self.
func (v *descriptorValidator) servedURL(path, raw string, required bool) {
	if raw == "" {
		if required {
			v.addf(path, "is required")
		}
		return
	}
	u := v.absURL(path, raw)
	if u == nil || v.self == nil || sameOrigin(u, v.self) {
		return
	}
	v.addf(path, "must have the scheme and host of links.self (%s://%s)",
		v.self.Scheme, v.self.Host)
}

// sameOrigin compares scheme, host and port, with the scheme's default
// port filled in.
func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

func (v *descriptorValidator) icon(path string, i *Icon) {
	if i == nil {
		return
	}
	if v.required(path+".url", i.URL) {
		v.absURL(path+".url", i.URL)
	}
	v.optionalURL(path+".url@2x", i.URL2x)
}

func (v *descriptorValidator) checkTop(d *CapabilitiesDescriptor) {
	v.length("key", d.Key, 1, maxAddonKeyLen)
	v.required("name", d.Name)
	v.required("description", d.Description)

	if v.required("links.self", d.Links.Self) {
		v.self = v.absURL("links.self", d.Links.Self)
	}
	v.optionalURL("links.homepage", d.Links.Homepage)

	if d.Vendor != nil {
		v.required("vendor.name", d.Vendor.Name)
		v.optionalURL("vendor.url", d.Vendor.URL)
	}
}

func (v *descriptorValidator) checkAPIConsumer(a *HipchatAPIConsumer) {
	if a == nil {
		return
	}
	const path = "capabilities.hipchatApiConsumer"
	if len(a.Scopes) == 0 {
		v.addf(path+".scopes", "is required")
	}
	for i, s := range a.Scopes {
		if !knownScopes[s] {
			v.addf(fmt.Sprintf("%s.scopes[%d]", path, i), "unknown scope %q", s)
		}
	}
	v.icon(path+".avatar", a.Avatar)
}

func (v *descriptorValidator) checkInstallable(i *Installable) {
	if i == nil {
		return
	}
	const path = "capabilities.installable"
	if !i.GlobalAllowed() && !i.RoomAllowed() {
		v.addf(path, "allowGlobal and allowRoom are both false, so nothing can install it")
	}
	if i.CallbackURL == "" && i.InstalledURL == "" {
		v.addf(path, "needs callbackUrl or installedUrl")
	}
	v.servedURL(path+".callbackUrl", i.CallbackURL, false)
	v.servedURL(path+".updateCallbackUrl", i.UpdateCallbackURL, false)
	v.servedURL(path+".installedUrl", i.InstalledURL, false)
	v.servedURL(path+".updatedUrl", i.UpdatedURL, false)
	v.servedURL(path+".uninstalledUrl", i.UninstalledURL, false)
}

// checkModules checks the module lists. Pages (dialogs, web panels and
// external pages) come first, so that targets can be resolved.
func (v *descriptorValidator) checkModules(c *Capabilities) {
	v.pages = make(map[string]string)
	for i := range c.Dialogs {
		v.checkDialog(fmt.Sprintf("capabilities.dialog[%d]", i), &c.Dialogs[i])
	}
	for i := range c.WebPanels {
		v.checkWebPanel(fmt.Sprintf("capabilities.webPanel[%d]", i), &c.WebPanels[i])
	}
	for i := range c.ExternalPages {
		p := &c.ExternalPages[i]
		path := fmt.Sprintf("capabilities.externalPage[%d]", i)
		v.pageKey(path+".key", p.Key)
		v.servedURL(path+".url", p.URL, true)
	}

	webhookKeys := make(map[string]string)
	for i := range c.Webhooks {
		path := fmt.Sprintf("capabilities.webhook[%d]", i)
		v.checkWebhook(path, &c.Webhooks[i])
		if k := c.Webhooks[i].Key; k != "" {
			v.unique(webhookKeys, path+".key", k)
		}
	}

	glanceKeys := make(map[string]string)
	for i := range c.Glances {
		path := fmt.Sprintf("capabilities.glance[%d]", i)
		v.checkGlance(path, &c.Glances[i])
		v.unique(glanceKeys, path+".key", c.Glances[i].Key)
	}

	actionKeys := make(map[string]string)
	for i := range c.Actions {
		path := fmt.Sprintf("capabilities.action[%d]", i)
		v.checkAction(path, &c.Actions[i])
		v.unique(actionKeys, path+".key", c.Actions[i].Key)
	}
}

// unique records key at path in seen and reports a key seen before. Empty
// keys are reported elsewhere and skipped here.
func (v *descriptorValidator) unique(seen map[string]string, path, key string) {
	if key == "" {
		return
	}
	if first, ok := seen[key]; ok {
		v.addf(path, "duplicates %s %q", first, key)
		return
	}
	seen[key] = path
}

// pageKey checks the key of a dialog, web panel or external page, which
// must be unique across all three kinds.
func (v *descriptorValidator) pageKey(path, key string) {
	v.moduleKey(path, key)
	v.unique(v.pages, path, key)
}

// target checks that t names a dialog, web panel or external page.
func (v *descriptorValidator) target(path string, t *Target) {
	if t.Key == "" {
		v.addf(path, "is required")
		return
	}
	if _, ok := v.pages[t.Key]; !ok {
		v.addf(path, "%q names no dialog, web panel or external page of this descriptor", t.Key)
	}
}

func (v *descriptorValidator) checkWebhook(path string, w *Webhook) {
	if v.required(path+".event", w.Event) && !knownEvents[w.Event] {
		v.addf(path+".event", "unknown event %q", w.Event)
	}
	v.servedURL(path+".url", w.URL, true)
	if w.Key != "" {
		v.moduleKey(path+".key", w.Key)
	}

	if w.Pattern != "" {
		if _, err := regexp.Compile(w.Pattern); err != nil {
			v.addf(path+".pattern", "does not compile: %v", err)
		}
		if w.Event != "" && !messageEvents[w.Event] {
			v.addf(path+".pattern", "applies to room_message and room_notification only, not %q",
				w.Event)
		}
	}

	switch w.Authentication {
	case "", WebhookAuthJWT:
	case WebhookAuthNone:
		if !v.allowNone {
			v.addf(path+".authentication",
				`"none" leaves the webhook unsigned, so anyone could forge it; use "jwt"`)
		}
	default:
		v.addf(path+".authentication", `must be "jwt" or "none", not %q`, w.Authentication)
	}
}

func (v *descriptorValidator) checkGlance(path string, g *Glance) {
	v.moduleKey(path+".key", g.Key)
	v.required(path+".name.value", g.Name.Value)
	v.servedURL(path+".queryUrl", g.QueryURL, true)
	if g.Target != nil {
		v.target(path+".target", g.Target)
	}
	v.icon(path+".icon", &g.Icon)
	v.conditions(path+".conditions", g.Conditions, 0)
}

func (v *descriptorValidator) checkWebPanel(path string, p *WebPanel) {
	v.pageKey(path+".key", p.Key)
	if v.required(path+".location", p.Location) && !panelLocations[p.Location] {
		v.addf(path+".location", "unknown web panel location %q", p.Location)
	}
	v.servedURL(path+".url", p.URL, true)
	v.icon(path+".icon", p.Icon)
}

func (v *descriptorValidator) checkDialog(path string, d *Dialog) {
	v.pageKey(path+".key", d.Key)
	v.servedURL(path+".url", d.URL, true)
	o := d.Options
	if o == nil {
		return
	}

	path += ".options"
	if !dialogStyles[o.Style] {
		v.addf(path+".style", `must be "normal" or "warning", not %q`, o.Style)
	}
	if o.PrimaryAction != nil {
		v.dialogAction(path+".primaryAction", o.PrimaryAction)
	}
	for i := range o.SecondaryActions {
		v.dialogAction(fmt.Sprintf("%s.secondaryActions[%d]", path, i), &o.SecondaryActions[i])
	}
	if o.Size != nil {
		v.cssLength(path+".size.width", o.Size.Width)
		v.cssLength(path+".size.height", o.Size.Height)
	}
}

func (v *descriptorValidator) dialogAction(path string, a *DialogAction) {
	v.required(path+".key", a.Key)
	v.required(path+".name.value", a.Name.Value)
}

func (v *descriptorValidator) cssLength(path, s string) {
	if s != "" && !cssLengthPattern.MatchString(s) {
		v.addf(path, "%q is not a CSS length such as \"600px\" or \"50%%\"", s)
	}
}

func (v *descriptorValidator) checkAction(path string, a *Action) {
	v.moduleKey(path+".key", a.Key)
	v.length(path+".name.value", a.Name.Value, 1, maxActionNameLen)
	if v.required(path+".location", a.Location) && !actionLocations[a.Location] {
		v.addf(path+".location", "unknown action location %q", a.Location)
	}
	v.target(path+".target", &a.Target)
	v.conditions(path+".conditions", a.Conditions, 0)
}

// conditions checks a list of conditions, recursing into groups up to
// maxConditionNesting levels deep.
func (v *descriptorValidator) conditions(path string, cs []Condition, depth int) {
	if depth > maxConditionNesting && len(cs) > 0 {
		v.addf(path, "nested more than %d levels deep", maxConditionNesting)
		return
	}
	for i := range cs {
		v.condition(fmt.Sprintf("%s[%d]", path, i), &cs[i], depth)
	}
}

func (v *descriptorValidator) condition(path string, c *Condition, depth int) {
	group := len(c.Conditions) > 0 || c.Type != ""
	switch {
	case group && c.Condition != "":
		v.addf(path, "has both condition and conditions; use one form")
	case group:
		switch strings.ToLower(c.Type) {
		case "", ConditionTypeAnd, ConditionTypeOr:
		default:
			v.addf(path+".type", `must be "and" or "or", not %q`, c.Type)
		}
		if len(c.Conditions) == 0 {
			v.addf(path+".conditions", "is required in a group")
		}
		v.conditions(path+".conditions", c.Conditions, depth+1)
	case c.Condition == "":
		v.addf(path+".condition", "is required")
	case !knownConditions[c.Condition]:
		v.addf(path+".condition", "unknown condition %q", c.Condition)
	}
}
