package addontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"unicode/utf8"
)

// ErrBadDescriptor is wrapped by the errors [Server.Install] returns when the
// add-on's capabilities descriptor is one HipChat would refuse.
var ErrBadDescriptor = errors.New("addontest: invalid add-on descriptor")

// knownScopes are the API scopes HipChat offers add-ons.
var knownScopes = []string{
	"admin_group", "admin_room", "import_data", "manage_rooms", "send_message",
	"send_notification", "view_group", "view_messages", "view_room",
}

// knownEvents are the webhook events HipChat sends.
var knownEvents = []string{
	"room_archived", "room_created", "room_deleted", "room_enter", "room_exit",
	"room_file_upload", "room_message", "room_notification",
	"room_topic_change", "room_unarchived",
}

// descriptor is the part of an add-on's capabilities descriptor the fake
// reads.
type descriptor struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Links       struct {
		Self     string `json:"self"`
		Homepage string `json:"homepage"`
	} `json:"links"`
	Capabilities struct {
		Consumer *struct {
			Scopes   []string `json:"scopes"`
			FromName string   `json:"fromName"`
		} `json:"hipchatApiConsumer"`
		Installable  *installableCap `json:"installable"`
		Configurable *pageCap        `json:"configurable"`
		AdminPage    *pageCap        `json:"adminPage"`
		Webhooks     []webhookCap    `json:"webhook"`
		Glances      []glanceCap     `json:"glance"`
		WebPanels    []pageCap       `json:"webPanel"`
		Dialogs      []pageCap       `json:"dialog"`
		ExternalPage []pageCap       `json:"externalPage"`
	} `json:"capabilities"`

	// base resolves the relative URLs of the descriptor.
	base *url.URL
}

type installableCap struct {
	AllowGlobal       *bool  `json:"allowGlobal"`
	AllowRoom         *bool  `json:"allowRoom"`
	CallbackURL       string `json:"callbackUrl"`
	UpdateCallbackURL string `json:"updateCallbackUrl"`
	InstalledURL      string `json:"installedUrl"`
	UpdatedURL        string `json:"updatedUrl"`
	UninstalledURL    string `json:"uninstalledUrl"`
}

type pageCap struct {
	Key string `json:"key"`
	URL string `json:"url"`
}

type webhookCap struct {
	Event          string `json:"event"`
	URL            string `json:"url"`
	Pattern        string `json:"pattern"`
	Name           string `json:"name"`
	Key            string `json:"key"`
	Authentication string `json:"authentication"`

	re *regexp.Regexp
}

type glanceCap struct {
	Key      string          `json:"key"`
	QueryURL string          `json:"queryUrl"`
	Icon     json.RawMessage `json:"icon"`
}

// parseDescriptor decodes and checks a descriptor fetched from from.
func parseDescriptor(body []byte, from *url.URL) (*descriptor, error) {
	d := &descriptor{base: from}
	if err := json.Unmarshal(body, d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDescriptor, err)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDescriptor, err)
	}
	return d, nil
}

// check applies the rules HipChat enforced when it read a descriptor.
func (d *descriptor) check() error {
	if d.Key == "" || d.Name == "" || d.Links.Self == "" {
		return errors.New("key, name and links.self are required")
	}
	if d.Capabilities.Consumer != nil {
		for _, sc := range d.Capabilities.Consumer.Scopes {
			if !slices.Contains(knownScopes, sc) {
				return fmt.Errorf("unknown scope %q", sc)
			}
		}
	}
	if err := d.checkWebhooks(); err != nil {
		return err
	}
	for _, g := range d.Capabilities.Glances {
		if !validKey(g.Key) || len(g.Icon) == 0 {
			return fmt.Errorf("glance %q needs a key of 1-40 characters and an icon", g.Key)
		}
	}
	return nil
}

// checkWebhooks checks the webhook declarations and compiles their patterns.
func (d *descriptor) checkWebhooks() error {
	for i := range d.Capabilities.Webhooks {
		w := &d.Capabilities.Webhooks[i]
		if !slices.Contains(knownEvents, w.Event) || w.URL == "" {
			return fmt.Errorf("webhook %d needs a known event and a url", i)
		}
		if w.Key != "" && !validKey(w.Key) {
			return fmt.Errorf("webhook %d: key must be 1-40 characters", i)
		}
		switch w.Authentication {
		case "", "jwt", "none":
		default:
			return fmt.Errorf("webhook %d: authentication must be jwt or none", i)
		}
		if w.Pattern == "" {
			continue
		}
		re, err := regexp.Compile(w.Pattern)
		if err != nil {
			return fmt.Errorf("webhook %d: pattern: %w", i, err)
		}
		w.re = re
	}
	return nil
}

// validKey reports whether k is a module key HipChat accepts.
func validKey(k string) bool {
	n := utf8.RuneCountInString(k)
	return n >= 1 && n <= 40
}

// scopes returns the API scopes the add-on asked for.
func (d *descriptor) scopes() []string {
	if d.Capabilities.Consumer == nil {
		return nil
	}
	return slices.Clone(d.Capabilities.Consumer.Scopes)
}

// installable returns the installable capability, empty when absent.
func (d *descriptor) installable() installableCap {
	if d.Capabilities.Installable == nil {
		return installableCap{}
	}
	return *d.Capabilities.Installable
}

// resolve makes a descriptor URL absolute against the descriptor's own URL.
func (d *descriptor) resolve(ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("%w: bad url: %w", ErrBadDescriptor, err)
	}
	if d.base != nil {
		u = d.base.ResolveReference(u)
	}
	return u.String(), nil
}

// glance returns the glance with key k.
func (d *descriptor) glance(k string) (glanceCap, bool) {
	for _, g := range d.Capabilities.Glances {
		if g.Key == k {
			return g, true
		}
	}
	return glanceCap{}, false
}

// pageURL returns the url of the page module with key k: "configurable",
// "adminPage", or the key of a dialog, web panel or external page.
func (d *descriptor) pageURL(k string) (string, bool) {
	c := d.Capabilities
	if k == "configurable" && c.Configurable != nil {
		return c.Configurable.URL, true
	}
	if k == "adminPage" && c.AdminPage != nil {
		return c.AdminPage.URL, true
	}
	for _, list := range [][]pageCap{c.Dialogs, c.WebPanels, c.ExternalPage} {
		for _, p := range list {
			if p.Key == k && p.URL != "" {
				return p.URL, true
			}
		}
	}
	return "", false
}
