package addon

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestGlanceStatusJSON(t *testing.T) {
	lozenge := GlanceLozenge{Label: "3 new", Type: GlanceLozengeNew}
	icon := Icon{URL: "https://example.com/i.png", URL2x: "https://example.com/i@2x.png"}
	tests := []struct {
		name string
		g    *GlanceData
		json string
		back *GlanceData // what the JSON decodes to, when not g itself
	}{
		{
			name: "label only",
			g:    NewGlanceData("<b>3</b> open"),
			json: `{"label":{"type":"html","value":"\u003cb\u003e3\u003c/b\u003e open"}}`,
		},
		{
			name: "lozenge",
			g:    NewGlanceData("Builds").WithLozenge("3 new", GlanceLozengeNew),
			json: `{"label":{"type":"html","value":"Builds"},` +
				`"status":{"type":"lozenge","value":{"label":"3 new","type":"new"}}}`,
		},
		{
			name: "lozenge pointer",
			g: &GlanceData{
				Label:  GlanceLabel{Type: "html", Value: "Builds"},
				Status: &GlanceStatus{Type: "lozenge", Value: &lozenge},
			},
			json: `{"label":{"type":"html","value":"Builds"},` +
				`"status":{"type":"lozenge","value":{"label":"3 new","type":"new"}}}`,
			back: NewGlanceData("Builds").WithLozenge("3 new", GlanceLozengeNew),
		},
		{
			name: "icon",
			g:    NewGlanceData("Weather").WithIcon(icon),
			json: `{"label":{"type":"html","value":"Weather"},"status":{"type":"icon",` +
				`"value":{"url":"https://example.com/i.png","url@2x":"https://example.com/i@2x.png"}}}`,
		},
		{
			name: "icon pointer",
			g: &GlanceData{
				Label:  GlanceLabel{Type: "html", Value: "Weather"},
				Status: &GlanceStatus{Type: "icon", Value: &Icon{URL: "https://example.com/i.png"}},
			},
			json: `{"label":{"type":"html","value":"Weather"},` +
				`"status":{"type":"icon","value":{"url":"https://example.com/i.png"}}}`,
			back: NewGlanceData("Weather").WithIcon(Icon{URL: "https://example.com/i.png"}),
		},
		{
			name: "metadata",
			g:    NewGlanceData("x").WithMetadata("open", 3.0).WithMetadata("mine", true),
			json: `{"label":{"type":"html","value":"x"},"metadata":{"mine":true,"open":3}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.g.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			got, err := json.Marshal(tt.g)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.json {
				t.Errorf("Marshal =\n%s\nwant\n%s", got, tt.json)
			}

			var back GlanceData
			if err := json.Unmarshal([]byte(tt.json), &back); err != nil {
				t.Fatal(err)
			}
			want := tt.back
			if want == nil {
				want = tt.g
			}
			if !reflect.DeepEqual(&back, want) {
				t.Errorf("Unmarshal = %#v, want %#v", back.Status, want.Status)
			}
		})
	}
}

func TestGlanceStatusUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    *GlanceStatus
		wantErr bool
	}{
		{"null", `null`, nil, false},
		{"unknown type kept raw", `{"type":"badge","value":{"n":1}}`,
			&GlanceStatus{Type: "badge", Value: json.RawMessage(`{"n":1}`)}, false},
		{"lozenge without value", `{"type":"lozenge"}`,
			&GlanceStatus{Type: "lozenge", Value: GlanceLozenge{}}, false},
		{"lozenge value wrong", `{"type":"lozenge","value":"hot"}`, nil, true},
		{"icon value wrong", `{"type":"icon","value":[1]}`, nil, true},
		{"not an object", `"lozenge"`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g GlanceData
			err := json.Unmarshal([]byte(`{"label":{"type":"html","value":""},"status":`+tt.json+`}`), &g)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(g.Status, tt.want) {
				t.Errorf("Status = %#v, want %#v", g.Status, tt.want)
			}
		})
	}
}

func TestGlanceDataValidate(t *testing.T) {
	tests := []struct {
		name  string
		g     *GlanceData
		field string // "" when valid
	}{
		{"label only", NewGlanceData("ok"), ""},
		{"empty label", NewGlanceData(""), ""},
		{"every lozenge type", NewGlanceData("x").WithLozenge("l", GlanceLozengeMoved), ""},
		{"label type missing", &GlanceData{Label: GlanceLabel{Value: "x"}}, "label.type"},
		{"label type text", &GlanceData{Label: GlanceLabel{Type: "text", Value: "x"}}, "label.type"},
		{"lozenge label missing", NewGlanceData("x").WithLozenge("", GlanceLozengeError),
			"status.value.label"},
		{"lozenge type missing", NewGlanceData("x").WithLozenge("l", ""), "status.value.type"},
		{"lozenge type unknown", NewGlanceData("x").WithLozenge("l", "warning"), "status.value.type"},
		{"lozenge of wrong Go type", &GlanceData{
			Label:  GlanceLabel{Type: "html"},
			Status: &GlanceStatus{Type: "lozenge", Value: Icon{URL: "https://example.com/i.png"}},
		}, "status.value"},
		{"nil lozenge pointer", &GlanceData{
			Label:  GlanceLabel{Type: "html"},
			Status: &GlanceStatus{Type: "lozenge", Value: (*GlanceLozenge)(nil)},
		}, "status.value"},
		{"icon url missing", NewGlanceData("x").WithIcon(Icon{}), "status.value.url"},
		{"icon url relative", NewGlanceData("x").WithIcon(Icon{URL: "/i.png"}), "status.value.url"},
		{"icon url2x bad", NewGlanceData("x").WithIcon(Icon{
			URL: "https://example.com/i.png", URL2x: "i@2x.png",
		}), "status.value.url@2x"},
		{"icon of wrong Go type", &GlanceData{
			Label:  GlanceLabel{Type: "html"},
			Status: &GlanceStatus{Type: "icon", Value: "https://example.com/i.png"},
		}, "status.value"},
		{"status type unknown", &GlanceData{
			Label:  GlanceLabel{Type: "html"},
			Status: &GlanceStatus{Type: "badge"},
		}, "status.type"},
		{"metadata not JSON", NewGlanceData("x").WithMetadata("f", func() {}), "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.g.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			problems := validationProblems(t, err, ErrInvalidGlance)
			if len(problems) != 1 || !strings.HasPrefix(problems[0], tt.field+": ") {
				t.Errorf("problems = %q, want one naming %q", problems, tt.field)
			}
		})
	}
}

func TestGlanceDataValidateNil(t *testing.T) {
	var g *GlanceData
	validationProblems(t, g.Validate(), ErrInvalidGlance)
}

func TestGlanceUpdateBody(t *testing.T) {
	body, err := glanceUpdateBody(
		GlanceUpdate{Key: "builds", Content: *NewGlanceData("Builds").WithLozenge("2", GlanceLozengeError)},
		GlanceUpdate{Key: "weather", Content: *NewGlanceData("Sunny")},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"glance":[` +
		`{"key":"builds","content":{"label":{"type":"html","value":"Builds"},` +
		`"status":{"type":"lozenge","value":{"label":"2","type":"error"}}}},` +
		`{"key":"weather","content":{"label":{"type":"html","value":"Sunny"}}}]}`
	if string(body) != want {
		t.Errorf("body =\n%s\nwant\n%s", body, want)
	}
}

func TestGlanceUpdateBodyInvalid(t *testing.T) {
	tests := []struct {
		name    string
		updates []GlanceUpdate
		fields  []string
	}{
		{"none", nil, []string{"glance"}},
		{"key missing", []GlanceUpdate{{Content: *NewGlanceData("x")}}, []string{"glance[0].key"}},
		{"key too long", []GlanceUpdate{
			{Key: "ok", Content: *NewGlanceData("x")},
			{Key: strings.Repeat("ķ", 41), Content: *NewGlanceData("x")},
		}, []string{"glance[1].key"}},
		{"bad content in two", []GlanceUpdate{
			{Key: "a", Content: GlanceData{}},
			{Key: "b", Content: *NewGlanceData("x").WithLozenge("", "new")},
		}, []string{"glance[0].content.label.type", "glance[1].content.status.value.label"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := glanceUpdateBody(tt.updates...)
			if body != nil {
				t.Errorf("body = %s, want nil", body)
			}
			problems := validationProblems(t, err, ErrInvalidGlance)
			if len(problems) != len(tt.fields) {
				t.Fatalf("problems = %q, want %d", problems, len(tt.fields))
			}
			for i, f := range tt.fields {
				if !strings.HasPrefix(problems[i], f+": ") {
					t.Errorf("problem %d = %q, want one naming %q", i, problems[i], f)
				}
			}
		})
	}
}

func TestGlanceKeyLengthCountsCharacters(t *testing.T) {
	_, err := glanceUpdateBody(GlanceUpdate{Key: strings.Repeat("ķ", 40), Content: *NewGlanceData("x")})
	if err != nil {
		t.Errorf("40-character key: %v", err)
	}
}

func FuzzGlanceDataJSON(f *testing.F) {
	f.Add([]byte(`{"label":{"type":"html","value":"x"},` +
		`"status":{"type":"lozenge","value":{"label":"a","type":"new"}}}`))
	f.Add([]byte(`{"label":{"type":"html","value":"x"},` +
		`"status":{"type":"icon","value":{"url":"https://a/b"}}}`))
	f.Add([]byte(`{"label":{},"status":{"type":"other","value":7},"metadata":{"a":[1,{"b":null}]}}`))
	f.Add([]byte(`{"status":{"type":"icon"}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		var g GlanceData
		if err := json.Unmarshal(data, &g); err != nil {
			return
		}
		if err := g.Validate(); err != nil && !errors.Is(err, ErrInvalidGlance) {
			t.Fatalf("Validate() = %v, not ErrInvalidGlance", err)
		}
		if _, err := json.Marshal(&g); err != nil {
			t.Fatalf("Marshal of decoded glance: %v", err)
		}
	})
}

// The answer to a glance query: an HTML label with a lozenge beside it.
func ExampleNewGlanceData() {
	g := NewGlanceData("<b>3</b> builds").WithLozenge("1 failed", GlanceLozengeError)
	if err := g.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.Marshal(g)
	fmt.Println(string(out))
	// Output:
	// {"label":{"type":"html","value":"\u003cb\u003e3\u003c/b\u003e builds"},"status":{"type":"lozenge","value":{"label":"1 failed","type":"error"}}}
}
