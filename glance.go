package addon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrInvalidGlance is wrapped by the error [GlanceData.Validate] returns,
// and by the error of a glance update refused before it was sent, for
// content HipChat would refuse.
var ErrInvalidGlance = errors.New("addon: invalid glance")

// MaxGlanceKeyLength is the longest glance key HipChat accepts, in
// characters.
const MaxGlanceKeyLength = 40

// Kinds of glance status, for [GlanceStatus.Type].
const (
	GlanceStatusLozenge = "lozenge"
	GlanceStatusIcon    = "icon"
)

// Lozenge types, for [GlanceLozenge.Type]: the color HipChat gives a
// glance's lozenge.
const (
	GlanceLozengeDefault  = "default"
	GlanceLozengeSuccess  = "success"
	GlanceLozengeError    = "error"
	GlanceLozengeCurrent  = "current"
	GlanceLozengeComplete = "complete"
	GlanceLozengeMoved    = "moved"
	GlanceLozengeNew      = "new"
)

var glanceLozengeTypes = []string{
	GlanceLozengeDefault, GlanceLozengeSuccess, GlanceLozengeError,
	GlanceLozengeCurrent, GlanceLozengeComplete, GlanceLozengeMoved,
	GlanceLozengeNew,
}

// GlanceData is the glance content: the answer to a glance query, and the
// content of a glance update. Build one with [NewGlanceData].
type GlanceData struct {
	Label  GlanceLabel   `json:"label"`
	Status *GlanceStatus `json:"status,omitempty"`
	// Metadata is matched by glance conditions; its values must be
	// marshalable to JSON.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// GlanceLabel is the text of a glance. Type is always "html", so text taken
// from users must be escaped.
type GlanceLabel struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// GlanceStatus is the status shown beside a glance's label: a lozenge, when
// Type is GlanceStatusLozenge and Value a [GlanceLozenge], or an icon, when
// Type is GlanceStatusIcon and Value an [Icon]. Pointers to either are
// accepted too. It is read back from JSON with a value of the matching type,
// or a json.RawMessage for a status type it does not know.
type GlanceStatus struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// GlanceLozenge is a glance status lozenge: a short label colored by Type,
// one of the GlanceLozenge constants.
type GlanceLozenge struct {
	Label string `json:"label"`
	Type  string `json:"type"`
}

// NewGlanceData returns glance content with the given HTML label and no
// status. The caller must escape any text in the label that came from users.
func NewGlanceData(labelHTML string) *GlanceData {
	return &GlanceData{Label: GlanceLabel{Type: FormatHTML, Value: labelHTML}}
}

// WithLozenge sets g's status to a lozenge and returns g.
func (g *GlanceData) WithLozenge(label, typ string) *GlanceData {
	g.Status = &GlanceStatus{
		Type:  GlanceStatusLozenge,
		Value: GlanceLozenge{Label: label, Type: typ},
	}
	return g
}

// WithIcon sets g's status to an icon and returns g.
func (g *GlanceData) WithIcon(icon Icon) *GlanceData {
	g.Status = &GlanceStatus{Type: GlanceStatusIcon, Value: icon}
	return g
}

// WithMetadata sets one metadata entry, for glance conditions to match,
// and returns g.
func (g *GlanceData) WithMetadata(key string, value any) *GlanceData {
	if g.Metadata == nil {
		g.Metadata = make(map[string]any)
	}
	g.Metadata[key] = value
	return g
}

// Validate checks g against HipChat's rules for glance content and reports
// every problem at once. The error is a *[ValidationError] that wraps
// [ErrInvalidGlance].
func (g *GlanceData) Validate() error {
	var p problems
	if g == nil {
		p.add("glance", "missing")
	} else {
		g.check(&p, "")
	}
	return p.err(ErrInvalidGlance)
}

// check adds g's problems to p, each field name prefixed with prefix.
func (g *GlanceData) check(p *problems, prefix string) {
	if g.Label.Type != FormatHTML {
		p.addf(prefix+"label.type", "must be %q", FormatHTML)
	}
	if g.Status != nil {
		g.Status.check(p, prefix+"status")
	}
	if g.Metadata != nil {
		if _, err := json.Marshal(g.Metadata); err != nil {
			p.add(prefix+"metadata", "not marshalable to JSON")
		}
	}
}

func (s *GlanceStatus) check(p *problems, field string) {
	switch s.Type {
	case GlanceStatusLozenge:
		l, ok := s.lozenge()
		if !ok {
			p.addf(field+".value", "want a GlanceLozenge, not %T", s.Value)
			return
		}
		p.required(field+".value.label", l.Label)
		p.required(field+".value.type", l.Type)
		p.oneOf(field+".value.type", l.Type, glanceLozengeTypes)
	case GlanceStatusIcon:
		icon, ok := s.icon()
		if !ok {
			p.addf(field+".value", "want an Icon, not %T", s.Value)
			return
		}
		p.icon(field+".value", &icon)
	default:
		p.addf(field+".type", "must be %q or %q", GlanceStatusLozenge, GlanceStatusIcon)
	}
}

func (s *GlanceStatus) lozenge() (GlanceLozenge, bool) {
	switch v := s.Value.(type) {
	case GlanceLozenge:
		return v, true
	case *GlanceLozenge:
		if v != nil {
			return *v, true
		}
	}
	return GlanceLozenge{}, false
}

func (s *GlanceStatus) icon() (Icon, bool) {
	switch v := s.Value.(type) {
	case Icon:
		return v, true
	case *Icon:
		if v != nil {
			return *v, true
		}
	}
	return Icon{}, false
}

// UnmarshalJSON reads {"type", "value"}, decoding the value into a
// GlanceLozenge or an Icon according to the type, and keeping it as a
// json.RawMessage for a type it does not know.
func (s *GlanceStatus) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	var raw struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}

	*s = GlanceStatus{Type: raw.Type}
	switch raw.Type {
	case GlanceStatusLozenge:
		var l GlanceLozenge
		if err := unmarshalOptional(raw.Value, &l); err != nil {
			return fmt.Errorf("addon: glance lozenge: %w", err)
		}
		s.Value = l
	case GlanceStatusIcon:
		var icon Icon
		if err := unmarshalOptional(raw.Value, &icon); err != nil {
			return fmt.Errorf("addon: glance icon: %w", err)
		}
		s.Value = icon
	default:
		if raw.Value != nil {
			s.Value = raw.Value
		}
	}
	return nil
}

// unmarshalOptional decodes data into v unless data is absent.
func unmarshalOptional(data json.RawMessage, v any) error {
	if len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, v)
}

// GlanceUpdate is one entry of the update body
// {"glance": [{"key": ..., "content": {...}}]}: new content for the glance
// the add-on's descriptor declares under Key.
type GlanceUpdate struct {
	Key     string     `json:"key"`
	Content GlanceData `json:"content"`
}

// glanceUpdateBody validates updates and returns the JSON body of a glance
// update request. The error wraps ErrInvalidGlance when there are no
// updates or one of them is invalid; it names each by its index.
func glanceUpdateBody(updates ...GlanceUpdate) ([]byte, error) {
	var p problems
	if len(updates) == 0 {
		p.add("glance", "no updates")
	}
	for i, u := range updates {
		prefix := fmt.Sprintf("glance[%d].", i)
		p.required(prefix+"key", u.Key)
		if l := utf8.RuneCountInString(u.Key); l > MaxGlanceKeyLength {
			p.addf(prefix+"key", "%d characters, more than %d", l, MaxGlanceKeyLength)
		}
		u.Content.check(&p, prefix+"content.")
	}
	if err := p.err(ErrInvalidGlance); err != nil {
		return nil, err
	}

	body, err := json.Marshal(struct {
		Glance []GlanceUpdate `json:"glance"`
	}{updates})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidGlance, err)
	}
	return body, nil
}
