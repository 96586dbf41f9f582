package addon

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fullCard returns a card that sets every field HipChat knows.
func fullCard() *Card {
	return &Card{
		Style:       CardStyleApplication,
		ID:          "issue-42",
		Title:       "Build #42 failed",
		Description: &CardDescription{Value: "<b>3</b> tests failed", Format: FormatHTML},
		Format:      CardFormatMedium,
		URL:         "https://ci.example.com/builds/42",
		Thumbnail: &CardThumbnail{
			URL:    "https://ci.example.com/img/thumb.png",
			URL2x:  "https://ci.example.com/img/thumb@2x.png",
			Width:  100,
			Height: 80,
		},
		Activity: &CardActivity{
			HTML: "<b>CI</b> finished build #42",
			Icon: &Icon{URL: "https://ci.example.com/img/activity.png"},
		},
		Attributes: []CardAttribute{
			{Label: "Branch", Value: CardAttributeValue{Label: "main"}},
			{Label: "Status", Value: CardAttributeValue{
				Label: "failed",
				Style: CardAttributeStyleLozengeError,
				URL:   "https://ci.example.com/builds/42/log",
				Icon: &Icon{
					URL:   "https://ci.example.com/img/fail.png",
					URL2x: "https://ci.example.com/img/fail@2x.png",
				},
			}},
		},
		Icon: &Icon{
			URL:   "https://ci.example.com/img/icon.png",
			URL2x: "https://ci.example.com/img/icon@2x.png",
		},
		Date: 1453867674631,
	}
}

func fullNotification() *Notification {
	return &Notification{
		Message:       "Build #42 failed: https://ci.example.com/builds/42",
		MessageFormat: FormatText,
		Color:         ColorRed,
		Notify:        true,
		From:          "CI",
		AttachTo:      "5f1c8f3e-8a0b-4c1e-9d7a-2b1f0c3d4e5f",
		Card:          fullCard(),
	}
}

func TestNotificationValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		modify func(n *Notification)
		field  string // "" when valid
	}{
		{"full card is valid", func(n *Notification) {}, ""},
		{"no card is valid", func(n *Notification) { n.Card = nil }, ""},
		{"defaults are valid", func(n *Notification) { *n = Notification{Message: "hi"} }, ""},
		{"message missing", func(n *Notification) { n.Message = "" }, "message"},
		{"message too long", func(n *Notification) { n.Message = strings.Repeat("a", 10001) }, "message"},
		{"unknown format", func(n *Notification) { n.MessageFormat = "markdown" }, "message_format"},
		{"unknown color", func(n *Notification) { n.Color = "blue" }, "color"},
		{"from too long", func(n *Notification) { n.From = strings.Repeat("a", 65) }, "from"},
		{"card style missing", func(n *Notification) { n.Card.Style = "" }, "card.style"},
		{"card style unknown", func(n *Notification) { n.Card.Style = "video" }, "card.style"},
		{"card id missing", func(n *Notification) { n.Card.ID = "" }, "card.id"},
		{"card title missing", func(n *Notification) { n.Card.Title = "" }, "card.title"},
		{"card title too long", func(n *Notification) {
			n.Card.Title = strings.Repeat("t", 501)
		}, "card.title"},
		{"description plain", func(n *Notification) { n.Card.Description.Format = "" }, ""},
		{"description format unknown", func(n *Notification) {
			n.Card.Description.Format = "rtf"
		}, "card.description.format"},
		{"card format unknown", func(n *Notification) { n.Card.Format = "large" }, "card.format"},
		{"card url relative", func(n *Notification) { n.Card.URL = "/builds/42" }, "card.url"},
		{"card url not http", func(n *Notification) { n.Card.URL = "javascript:alert(1)" }, "card.url"},
		{"card url no host", func(n *Notification) { n.Card.URL = "https:///x" }, "card.url"},
		{"thumbnail url missing", func(n *Notification) { n.Card.Thumbnail.URL = "" }, "card.thumbnail.url"},
		{"thumbnail url2x bad", func(n *Notification) {
			n.Card.Thumbnail.URL2x = "ftp://example.com/x.png"
		}, "card.thumbnail.url@2x"},
		{"thumbnail width negative", func(n *Notification) {
			n.Card.Thumbnail.Width = -1
		}, "card.thumbnail.width"},
		{"activity html missing", func(n *Notification) { n.Card.Activity.HTML = "" }, "card.activity.html"},
		{"activity icon url missing", func(n *Notification) {
			n.Card.Activity.Icon.URL = ""
		}, "card.activity.icon.url"},
		{"attribute style unknown", func(n *Notification) {
			n.Card.Attributes[1].Value.Style = "lozenge-pink"
		}, "card.attributes[1].value.style"},
		{"attribute url relative", func(n *Notification) {
			n.Card.Attributes[0].Value.URL = "log"
		}, "card.attributes[0].value.url"},
		{"attribute icon url2x bad", func(n *Notification) {
			n.Card.Attributes[1].Value.Icon.URL2x = "data:image/png;base64,AAAA"
		}, "card.attributes[1].value.icon.url@2x"},
		{"card icon url missing", func(n *Notification) { n.Card.Icon.URL = "" }, "card.icon.url"},
		{"card without message", func(n *Notification) { n.Message = "" }, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := fullNotification()
			tt.modify(n)
			err := n.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			problems := validationProblems(t, err, ErrInvalidNotification)
			if len(problems) != 1 || !strings.HasPrefix(problems[0], tt.field+": ") {
				t.Errorf("problems = %q, want one naming %q", problems, tt.field)
			}
		})
	}
}

// validationProblems checks that err is a *ValidationError wrapping kind
// and returns its problems.
func validationProblems(t *testing.T, err, kind error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("Validate() = nil, want an error")
	}
	if !errors.Is(err, kind) {
		t.Errorf("errors.Is(%v, %v) = false", err, kind)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T is not a *ValidationError", err)
	}
	if !strings.HasPrefix(err.Error(), "addon: ") {
		t.Errorf("error %q lacks the addon prefix", err)
	}
	return ve.Problems
}

func TestNotificationValidateReportsEveryProblem(t *testing.T) {
	n := &Notification{
		Color: "blue",
		From:  strings.Repeat("x", 70),
		Card: &Card{
			Style:     "video",
			Thumbnail: &CardThumbnail{},
			Activity:  &CardActivity{},
		},
	}
	problems := validationProblems(t, n.Validate(), ErrInvalidNotification)

	want := []string{
		"message", "color", "from", "card.style", "card.id", "card.title",
		"card.thumbnail.url", "card.activity.html",
	}
	if len(problems) != len(want) {
		t.Fatalf("got %d problems %q, want %d", len(problems), problems, len(want))
	}
	for i, field := range want {
		if !strings.HasPrefix(problems[i], field+": ") {
			t.Errorf("problem %d = %q, want one naming %q", i, problems[i], field)
		}
	}
	msg := n.Validate().Error()
	if !strings.Contains(msg, "color: ") || !strings.Contains(msg, "; card.id: required") {
		t.Errorf("Error() = %q, want every problem in it", msg)
	}
}

func TestNotificationValidateCountsCharacters(t *testing.T) {
	tests := []struct {
		name  string
		n     Notification
		valid bool
	}{
		{"10000 two-byte runes", Notification{Message: strings.Repeat("é", 10000)}, true},
		{"10000 four-byte runes", Notification{Message: strings.Repeat("😀", 10000)}, true},
		{"10001 runes", Notification{Message: strings.Repeat("é", 10001)}, false},
		{"64 runes from", Notification{Message: "m", From: strings.Repeat("ü", 64)}, true},
		{"65 runes from", Notification{Message: "m", From: strings.Repeat("ü", 65)}, false},
		{"500 runes title", Notification{Message: "m", Card: &Card{
			Style: CardStyleLink, ID: "1", Title: strings.Repeat("日", 500),
		}}, true},
		{"501 runes title", Notification{Message: "m", Card: &Card{
			Style: CardStyleLink, ID: "1", Title: strings.Repeat("日", 501),
		}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.Validate()
			if (err == nil) != tt.valid {
				t.Errorf("Validate() = %v, want valid=%v", err, tt.valid)
			}
		})
	}
}

func TestNotificationValidateNil(t *testing.T) {
	var n *Notification
	validationProblems(t, n.Validate(), ErrInvalidNotification)
}

func TestValidationErrorTruncatesLongValues(t *testing.T) {
	n := &Notification{Message: "m", Color: strings.Repeat("c", 1000)}
	msg := n.Validate().Error()
	if len(msg) > 200 {
		t.Errorf("Error() is %d bytes long: %q", len(msg), msg)
	}
}

func TestNotificationGoldenJSON(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "notification_card.golden.json"))
	if err != nil {
		t.Fatal(err)
	}

	got, err := json.MarshalIndent(fullNotification(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.TrimSpace(golden); !bytes.Equal(got, want) {
		t.Errorf("JSON differs from the golden file:\ngot:\n%s\nwant:\n%s", got, want)
	}

	var back Notification
	if err := json.Unmarshal(golden, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, fullNotification()) {
		t.Errorf("golden file decodes to %+v", back)
	}
}

func TestNotificationJSONLeavesOutDefaults(t *testing.T) {
	got, err := json.Marshal(&Notification{Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"message":"hi"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestCardDescriptionJSON(t *testing.T) {
	tests := []struct {
		name string
		d    CardDescription
		json string
	}{
		{"plain", CardDescription{Value: "a <b>c</b>"}, `"a \u003cb\u003ec\u003c/b\u003e"`},
		{"html", CardDescription{Value: "<b>c</b>", Format: FormatHTML},
			`{"value":"\u003cb\u003ec\u003c/b\u003e","format":"html"}`},
		{"text", CardDescription{Value: "c", Format: FormatText}, `{"value":"c","format":"text"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.json {
				t.Errorf("Marshal = %s, want %s", got, tt.json)
			}

			var back CardDescription
			if err := json.Unmarshal([]byte(tt.json), &back); err != nil {
				t.Fatal(err)
			}
			if back != tt.d {
				t.Errorf("Unmarshal = %+v, want %+v", back, tt.d)
			}
		})
	}
}

func TestCardDescriptionUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    *CardDescription
		wantErr bool
	}{
		{"string in card", `{"description":"plain"}`, &CardDescription{Value: "plain"}, false},
		{"object in card", `{"description":{"value":"v","format":"text"}}`,
			&CardDescription{Value: "v", Format: FormatText}, false},
		{"object without format", `{"description":{"value":"v"}}`, &CardDescription{Value: "v"}, false},
		{"null", `{"description":null}`, nil, false},
		{"number", `{"description":12}`, nil, true},
		{"array", `{"description":["a"]}`, nil, true},
		{"bad value type", `{"description":{"value":1}}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Card
			err := json.Unmarshal([]byte(tt.json), &c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(c.Description, tt.want) {
				t.Errorf("Description = %+v, want %+v", c.Description, tt.want)
			}
		})
	}
}

func TestNotificationBuilders(t *testing.T) {
	card := &Card{Style: CardStyleLink, ID: "l1", Title: "A link"}
	tests := []struct {
		name string
		got  *Notification
		want *Notification
	}{
		{"text", TextNotification("a < b"), &Notification{Message: "a < b", MessageFormat: "text"}},
		{"html", HTMLNotification("<i>x</i>"), &Notification{Message: "<i>x</i>", MessageFormat: "html"}},
		{"with card", TextNotification("m").WithCard(card),
			&Notification{Message: "m", MessageFormat: "text", Card: card}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
			if err := tt.got.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func FuzzNotificationJSON(f *testing.F) {
	full, err := json.Marshal(fullNotification())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add([]byte(`{"message":"hi"}`))
	f.Add([]byte(`{"message":"","card":{"description":"x","thumbnail":{},"activity":{}}}`))
	f.Add([]byte(`{"card":{"description":{"value":"v","format":"rtf"},` +
		`"attributes":[{"value":{"icon":{}}}]}}`))
	f.Add([]byte(`{"message":"\xff\xfe","from":"\u00e9","card":null}`))
	f.Add([]byte(`[]`))

	f.Fuzz(func(t *testing.T, data []byte) {
		var n Notification
		if err := json.Unmarshal(data, &n); err != nil {
			return
		}
		err := n.Validate()
		if err != nil {
			if !errors.Is(err, ErrInvalidNotification) {
				t.Fatalf("Validate() = %v, not ErrInvalidNotification", err)
			}
			return
		}

		// A valid notification stays valid through a round trip.
		out, err := json.Marshal(&n)
		if err != nil {
			t.Fatalf("Marshal of a valid notification: %v", err)
		}
		var back Notification
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Unmarshal of %s: %v", out, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("round trip of %s: %v", out, err)
		}
	})
}
