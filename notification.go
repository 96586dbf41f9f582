package addon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrInvalidNotification is wrapped by the error [Notification.Validate]
// returns, so callers can tell a notification HipChat would refuse from a
// failure to deliver it.
var ErrInvalidNotification = errors.New("addon: invalid notification")

// Limits HipChat puts on a room notification's message, its from label and
// its card's title, counted in characters (Unicode code points), not bytes.
const (
	MaxNotificationLength     = 10000
	MaxNotificationFromLength = 64
	MaxCardTitleLength        = 500
)

// Message formats, for [Notification.MessageFormat] and
// [CardDescription.Format]. HipChat assumes FormatHTML when none is given.
const (
	FormatHTML = "html"
	FormatText = "text"
)

// Notification colors, for [Notification.Color]. HipChat assumes
// ColorYellow when none is given.
const (
	ColorYellow = "yellow"
	ColorGreen  = "green"
	ColorRed    = "red"
	ColorPurple = "purple"
	ColorGray   = "gray"
	ColorRandom = "random"
)

// Card styles, for [Card.Style].
const (
	CardStyleFile        = "file"
	CardStyleImage       = "image"
	CardStyleApplication = "application"
	CardStyleLink        = "link"
	CardStyleMedia       = "media"
)

// Card formats, for [Card.Format].
const (
	CardFormatCompact = "compact"
	CardFormatMedium  = "medium"
)

// Styles of a card attribute's value, for [CardAttributeValue.Style]: a
// plain lozenge, or one colored by its meaning.
const (
	CardAttributeStyleLozenge         = "lozenge"
	CardAttributeStyleLozengeSuccess  = "lozenge-success"
	CardAttributeStyleLozengeError    = "lozenge-error"
	CardAttributeStyleLozengeCurrent  = "lozenge-current"
	CardAttributeStyleLozengeComplete = "lozenge-complete"
	CardAttributeStyleLozengeMoved    = "lozenge-moved"
)

var (
	messageFormats = []string{FormatHTML, FormatText}
	colors         = []string{ColorYellow, ColorGreen, ColorRed, ColorPurple, ColorGray, ColorRandom}
	cardStyles     = []string{
		CardStyleFile, CardStyleImage, CardStyleApplication, CardStyleLink, CardStyleMedia,
	}
	cardFormats         = []string{CardFormatCompact, CardFormatMedium}
	cardAttributeStyles = []string{
		CardAttributeStyleLozenge, CardAttributeStyleLozengeSuccess,
		CardAttributeStyleLozengeError, CardAttributeStyleLozengeCurrent,
		CardAttributeStyleLozengeComplete, CardAttributeStyleLozengeMoved,
	}
)

// Notification is a room notification: what an add-on posts to a room, and
// what it may answer a webhook with. Empty optional fields are left out of
// the JSON, so HipChat applies its defaults (HTML, yellow, no notify).
//
// Message is required even when Card is set: clients that cannot show
// cards show the message instead. With the default HTML format, text taken
// from users must be escaped; [TextNotification] avoids that.
type Notification struct {
	Message       string `json:"message"`
	MessageFormat string `json:"message_format,omitempty"`
	Color         string `json:"color,omitempty"`
	Notify        bool   `json:"notify,omitempty"`
	// From is a label shown next to the add-on's name, up to 64
	// characters.
	From string `json:"from,omitempty"`
	// AttachTo is the ID of a message this notification replies to.
	AttachTo string `json:"attach_to,omitempty"`
	Card     *Card  `json:"card,omitempty"`
}

// TextNotification returns a notification of plain text, which HipChat
// shows as written: no HTML escaping is needed.
func TextNotification(msg string) *Notification {
	return &Notification{Message: msg, MessageFormat: FormatText}
}

// HTMLNotification returns a notification whose message is HTML. The
// caller must escape any text in it that came from users.
func HTMLNotification(html string) *Notification {
	return &Notification{Message: html, MessageFormat: FormatHTML}
}

// WithCard sets n's card and returns n, for chaining after
// [TextNotification] or [HTMLNotification].
func (n *Notification) WithCard(c *Card) *Notification {
	n.Card = c
	return n
}

// Validate checks n against HipChat's rules for a room notification and its
// card, and reports every problem at once. The error is a
// *[ValidationError] that wraps [ErrInvalidNotification]; each problem
// names the JSON field at fault, such as "card.thumbnail.url".
//
// The rules are those of HipChat's API reference; a HipChat server may
// still refuse what passes them. Validate does not check that HTML is well
// formed.
func (n *Notification) Validate() error {
	var p problems
	if n == nil {
		p.add("notification", "missing")
		return p.err(ErrInvalidNotification)
	}

	switch l := utf8.RuneCountInString(n.Message); {
	case l == 0:
		p.add("message", "required")
	case l > MaxNotificationLength:
		p.addf("message", "%d characters, more than %d", l, MaxNotificationLength)
	}
	p.oneOf("message_format", n.MessageFormat, messageFormats)
	p.oneOf("color", n.Color, colors)
	if l := utf8.RuneCountInString(n.From); l > MaxNotificationFromLength {
		p.addf("from", "%d characters, more than %d", l, MaxNotificationFromLength)
	}
	if n.Card != nil {
		n.Card.check(&p, "card")
	}
	return p.err(ErrInvalidNotification)
}

// Card is a card attached to a notification: a richer view of a file, an
// image, a link, a piece of media or an application's object. Style, ID and
// Title are required.
type Card struct {
	Style string `json:"style"`
	// ID identifies the card; a later card with the same ID updates it.
	ID string `json:"id"`
	// Title is up to 500 characters.
	Title       string           `json:"title"`
	Description *CardDescription `json:"description,omitempty"`
	Format      string           `json:"format,omitempty"`
	URL         string           `json:"url,omitempty"`
	Thumbnail   *CardThumbnail   `json:"thumbnail,omitempty"`
	Activity    *CardActivity    `json:"activity,omitempty"`
	Attributes  []CardAttribute  `json:"attributes,omitempty"`
	Icon        *Icon            `json:"icon,omitempty"`
	// Date is in milliseconds since the Unix epoch.
	Date int64 `json:"date,omitempty"`
}

func (c *Card) check(p *problems, field string) {
	p.required(field+".style", c.Style)
	p.oneOf(field+".style", c.Style, cardStyles)
	p.required(field+".id", c.ID)
	p.required(field+".title", c.Title)
	if l := utf8.RuneCountInString(c.Title); l > MaxCardTitleLength {
		p.addf(field+".title", "%d characters, more than %d", l, MaxCardTitleLength)
	}
	if c.Description != nil {
		p.oneOf(field+".description.format", c.Description.Format, messageFormats)
	}
	p.oneOf(field+".format", c.Format, cardFormats)
	p.url(field+".url", c.URL)

	if c.Thumbnail != nil {
		c.Thumbnail.check(p, field+".thumbnail")
	}
	if c.Activity != nil {
		p.required(field+".activity.html", c.Activity.HTML)
		p.icon(field+".activity.icon", c.Activity.Icon)
	}
	for i, a := range c.Attributes {
		v := fmt.Sprintf("%s.attributes[%d].value", field, i)
		p.oneOf(v+".style", a.Value.Style, cardAttributeStyles)
		p.url(v+".url", a.Value.URL)
		p.icon(v+".icon", a.Value.Icon)
	}
	p.icon(field+".icon", c.Icon)
}

// CardDescription is a card's description. HipChat accepts it either as a
// plain string or as {value, format}: it is written as a plain string when
// Format is empty, and read from either form.
type CardDescription struct {
	Value string
	// Format is FormatHTML, FormatText or empty.
	Format string
}

type cardDescriptionObject struct {
	Value  string `json:"value"`
	Format string `json:"format"`
}

// MarshalJSON writes d as a plain string when it has no format, and as
// {"value", "format"} otherwise.
func (d CardDescription) MarshalJSON() ([]byte, error) {
	if d.Format == "" {
		return json.Marshal(d.Value)
	}
	return json.Marshal(cardDescriptionObject{Value: d.Value, Format: d.Format})
}

// UnmarshalJSON reads a plain string or a {"value", "format"} object; it
// leaves d unchanged for null.
func (d *CardDescription) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*d = CardDescription{Value: s}
		return nil
	case len(data) > 0 && data[0] == '{':
		var o cardDescriptionObject
		if err := json.Unmarshal(data, &o); err != nil {
			return err
		}
		*d = CardDescription(o)
		return nil
	}
	return errors.New("addon: card description: want a string or an object")
}

// CardThumbnail is a card's preview image. URL is required; Width and
// Height are in pixels and optional.
type CardThumbnail struct {
	URL    string `json:"url"`
	URL2x  string `json:"url@2x,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

func (t *CardThumbnail) check(p *problems, field string) {
	p.required(field+".url", t.URL)
	p.url(field+".url", t.URL)
	p.url(field+".url@2x", t.URL2x)
	if t.Width < 0 {
		p.add(field+".width", "negative")
	}
	if t.Height < 0 {
		p.add(field+".height", "negative")
	}
}

// CardActivity is the line HipChat shows for a card in the room's activity
// stream. HTML is required.
type CardActivity struct {
	HTML string `json:"html"`
	Icon *Icon  `json:"icon,omitempty"`
}

// CardAttribute is one labelled value shown on a card.
type CardAttribute struct {
	Label string             `json:"label,omitempty"`
	Value CardAttributeValue `json:"value"`
}

// CardAttributeValue is the value of a [CardAttribute]: text, shown as a
// lozenge when Style is one of the CardAttributeStyle constants, and linked
// to URL when that is set.
type CardAttributeValue struct {
	Label string `json:"label"`
	Style string `json:"style,omitempty"`
	URL   string `json:"url,omitempty"`
	Icon  *Icon  `json:"icon,omitempty"`
}

// ValidationError lists every problem found in a value the add-on was about
// to send to HipChat. It wraps [ErrInvalidNotification] or
// [ErrInvalidGlance], depending on what was checked.
type ValidationError struct {
	// Problems each read "field: what is wrong", the field named by its
	// JSON path, such as "card.attributes[0].value.style".
	Problems []string

	kind error
}

// Error joins the problems into one line.
func (e *ValidationError) Error() string {
	prefix := "addon: invalid value"
	if e.kind != nil {
		prefix = e.kind.Error()
	}
	return prefix + ": " + strings.Join(e.Problems, "; ")
}

// Unwrap returns the sentinel the error wraps.
func (e *ValidationError) Unwrap() error { return e.kind }

// problems collects what a Validate method finds.
type problems []string

func (p *problems) add(field, what string) { *p = append(*p, field+": "+what) }

func (p *problems) addf(field, format string, args ...any) {
	p.add(field, fmt.Sprintf(format, args...))
}

// err returns nil when nothing was found, and a *ValidationError wrapping
// kind otherwise.
func (p problems) err(kind error) error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p, kind: kind}
}

func (p *problems) required(field, v string) {
	if v == "" {
		p.add(field, "required")
	}
}

// oneOf reports a v that is neither empty nor one of allowed. Fields that
// are required check that separately.
func (p *problems) oneOf(field, v string, allowed []string) {
	if v != "" && !slices.Contains(allowed, v) {
		if utf8.RuneCountInString(v) > 40 {
			v = string([]rune(v)[:40]) + "..."
		}
		p.addf(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

// url reports a raw URL that is neither empty nor an absolute http or https
// URL.
func (p *problems) url(field, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(field, "not an absolute http or https URL")
	}
}

// icon checks an optional icon: when present its url is required.
func (p *problems) icon(field string, icon *Icon) {
	if icon == nil {
		return
	}
	p.required(field+".url", icon.URL)
	p.url(field+".url", icon.URL)
	p.url(field+".url@2x", icon.URL2x)
}
