package addon

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

const base = "https://addon.example.com"

// desc keeps the tables of mutations readable.
type desc = CapabilitiesDescriptor

// fullDescriptor returns a valid descriptor that uses every member.
func fullDescriptor() *CapabilitiesDescriptor {
	return &CapabilitiesDescriptor{
		Key:         "com.example.echo",
		Name:        "Echo",
		Description: "Repeats what is said to it.",
		APIVersion:  "1:1",
		Links:       Links{Self: base + "/capabilities.json", Homepage: "https://www.example.com/echo"},
		Vendor:      &Vendor{Name: "Example Ltd", URL: "https://www.example.com"},
		Capabilities: Capabilities{
			HipchatAPIConsumer: &HipchatAPIConsumer{
				Scopes:   []string{ScopeSendNotification, ScopeViewRoom},
				FromName: "Echo",
				Avatar: &Icon{
					URL:   "https://cdn.example.com/echo.png",
					URL2x: "https://cdn.example.com/echo@2x.png",
				},
			},
			Installable: &Installable{
				AllowGlobal:       Bool(false),
				AllowRoom:         Bool(true),
				CallbackURL:       base + "/installable",
				UpdateCallbackURL: base + "/installable/update",
				InstalledURL:      base + "/installed",
				UpdatedURL:        base + "/updated",
				UninstalledURL:    base + "/uninstalled",
			},
			Configurable: &Configurable{URL: base + "/configure"},
			AdminPage:    &AdminPage{URL: base + "/admin"},
			Webhooks: []Webhook{
				{Event: EventRoomMessage, URL: base + "/echo", Pattern: `^/echo\b`, Name: "Echo", Key: "echo"},
				{Event: EventRoomEnter, URL: base + "/enter", Authentication: WebhookAuthJWT},
			},
			Glances: []Glance{{
				Key:      "echo.glance",
				Name:     I18n{Value: "Echo", I18n: "echo.glance.name"},
				QueryURL: base + "/glance",
				Target:   &Target{Key: "echo.sidebar", Options: map[string]any{"focus": true}},
				Icon:     Icon{URL: base + "/icon.png", URL2x: base + "/icon@2x.png"},
				Weight:   10,
				Conditions: []Condition{
					{Condition: ConditionRoomIsPublic, Invert: true},
					{Type: ConditionTypeOr, Conditions: []Condition{
						{Condition: ConditionUserIsAdmin},
						{Condition: ConditionUserIsRoomOwner},
					}},
				},
			}},
			WebPanels: []WebPanel{{
				Key:      "echo.sidebar",
				Name:     I18n{Value: "Echo"},
				Location: LocationSidebarRight,
				URL:      base + "/sidebar",
				Icon:     &Icon{URL: base + "/panel.png"},
				Weight:   5,
			}},
			Dialogs: []Dialog{{
				Key:   "echo.dialog",
				Title: I18n{Value: "Say something"},
				URL:   base + "/dialog",
				Options: &DialogOptions{
					Style:            DialogStyleWarning,
					PrimaryAction:    &DialogAction{Key: "send", Name: I18n{Value: "Send"}, Enabled: Bool(true)},
					SecondaryActions: []DialogAction{{Key: "preview", Name: I18n{Value: "Preview"}}},
					Size:             &DialogSize{Width: "600px", Height: "50%"},
					Hint:             &I18n{Value: "Type away"},
					Filter:           &DialogFilter{Placeholder: I18n{Value: "Search"}},
				},
			}},
			Actions: []Action{
				{
					Key:      "echo.action",
					Name:     I18n{Value: "Echo this"},
					Location: LocationMessageAction,
					Target:   Target{Key: "echo.dialog"},
					Weight:   1,
					Conditions: []Condition{{
						Condition: ConditionMessageMatches,
						Params:    map[string]any{"pattern": "echo", "flags": []any{"i"}},
					}},
				},
				{
					Key:      "echo.open",
					Name:     I18n{Value: "Open Echo"},
					Location: LocationInputAction,
					Target:   Target{Key: "echo.page", Options: map[string]any{"size": map[string]any{"w": 2.5}}},
				},
			},
			ExternalPages: []ExternalPage{
				{Key: "echo.page", Name: I18n{Value: "Echo"}, URL: base + "/page"},
			},
		},
	}
}

func descriptorProblems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var de *DescriptorError
	if !errors.As(err, &de) {
		t.Fatalf("error %v is a %T, want *DescriptorError", err, err)
	}
	return de.Problems
}

func TestValidateFullDescriptor(t *testing.T) {
	d := fullDescriptor()
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	if err := d.normalized().Validate(); err != nil {
		t.Fatalf("normalized().Validate() = %v, want nil", err)
	}
}

func TestValidateMinimalDescriptor(t *testing.T) {
	d := &CapabilitiesDescriptor{
		Key: "k", Name: "n", Description: "d",
		Links: Links{Self: "http://localhost:3000/capabilities.json"},
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
}

func TestValidateProblems(t *testing.T) {
	caps := func(d *desc) *Capabilities { return &d.Capabilities }
	tests := []struct {
		name   string
		mutate func(d *desc)
		want   []string // each a prefix of one problem, in order
	}{
		{"key missing", func(d *desc) { d.Key = "" },
			[]string{"key: is required"}},
		{"key too long", func(d *desc) { d.Key = strings.Repeat("k", 101) },
			[]string{"key: must be at most 100 characters"}},
		{"name missing", func(d *desc) { d.Name = "" },
			[]string{"name: is required"}},
		{"description missing", func(d *desc) { d.Description = "" },
			[]string{"description: is required"}},
		{"links.self missing", func(d *desc) {
			*d = CapabilitiesDescriptor{Key: "k", Name: "n", Description: "d"}
		}, []string{"links.self: is required"}},
		{"links.self relative", func(d *desc) {
			*d = CapabilitiesDescriptor{Key: "k", Name: "n", Description: "d",
				Links: Links{Self: "/capabilities.json"}}
		}, []string{"links.self: must be an absolute http or https URL"}},
		{"links.self not http", func(d *desc) {
			*d = CapabilitiesDescriptor{Key: "k", Name: "n", Description: "d",
				Links: Links{Self: "ftp://addon.example.com/c"}}
		}, []string{"links.self: must be an absolute http or https URL"}},
		{"links.self without host", func(d *desc) {
			*d = CapabilitiesDescriptor{Key: "k", Name: "n", Description: "d",
				Links: Links{Self: "https:///capabilities.json"}}
		}, []string{"links.self: must be an absolute URL with a host"}},
		{"links.self unparsable", func(d *desc) {
			*d = CapabilitiesDescriptor{Key: "k", Name: "n", Description: "d",
				Links: Links{Self: "https://exa mple.com/"}}
		}, []string{"links.self: is not a valid URL"}},
		{"homepage relative", func(d *desc) { d.Links.Homepage = "echo" },
			[]string{"links.homepage: must be an absolute"}},
		{"vendor name missing", func(d *desc) { d.Vendor.Name = "" },
			[]string{"vendor.name: is required"}},
		{"vendor url relative", func(d *desc) { d.Vendor.URL = "www.example.com" },
			[]string{"vendor.url: must be an absolute"}},

		{"scopes missing", func(d *desc) { caps(d).HipchatAPIConsumer.Scopes = nil },
			[]string{"capabilities.hipchatApiConsumer.scopes: is required"}},
		{"scope unknown", func(d *desc) {
			caps(d).HipchatAPIConsumer.Scopes = []string{ScopeViewRoom, "send_everything"}
		}, []string{`capabilities.hipchatApiConsumer.scopes[1]: unknown scope "send_everything"`}},
		{"avatar url missing", func(d *desc) { caps(d).HipchatAPIConsumer.Avatar.URL = "" },
			[]string{"capabilities.hipchatApiConsumer.avatar.url: is required"}},
		{"avatar url@2x relative", func(d *desc) {
			caps(d).HipchatAPIConsumer.Avatar.URL2x = "echo@2x.png"
		}, []string{"capabilities.hipchatApiConsumer.avatar.url@2x: must be an absolute"}},

		{"installable allows nothing", func(d *desc) {
			caps(d).Installable.AllowGlobal = Bool(false)
			caps(d).Installable.AllowRoom = Bool(false)
		}, []string{"capabilities.installable: allowGlobal and allowRoom are both false"}},
		{"installable without callback", func(d *desc) {
			caps(d).Installable.CallbackURL = ""
			caps(d).Installable.InstalledURL = ""
		}, []string{"capabilities.installable: needs callbackUrl or installedUrl"}},
		{"callbackUrl on another host", func(d *desc) {
			caps(d).Installable.CallbackURL = "https://evil.example.net/installable"
		}, []string{"capabilities.installable.callbackUrl: " +
			"must have the scheme and host of links.self (https://addon.example.com)"}},
		{"updateCallbackUrl on another scheme", func(d *desc) {
			caps(d).Installable.UpdateCallbackURL = "http://addon.example.com/update"
		}, []string{"capabilities.installable.updateCallbackUrl: must have the scheme and host"}},
		{"installedUrl on another port", func(d *desc) {
			caps(d).Installable.InstalledURL = "https://addon.example.com:8443/installed"
		}, []string{"capabilities.installable.installedUrl: must have the scheme and host"}},
		{"updatedUrl relative", func(d *desc) { caps(d).Installable.UpdatedURL = "/updated" },
			[]string{"capabilities.installable.updatedUrl: must be an absolute"}},
		{"uninstalledUrl on another host", func(d *desc) {
			caps(d).Installable.UninstalledURL = "https://example.org/uninstalled"
		}, []string{"capabilities.installable.uninstalledUrl: must have the scheme and host"}},
		{"configurable url missing", func(d *desc) { caps(d).Configurable.URL = "" },
			[]string{"capabilities.configurable.url: is required"}},
		{"adminPage url on another host", func(d *desc) {
			caps(d).AdminPage.URL = "https://example.org/admin"
		}, []string{"capabilities.adminPage.url: must have the scheme and host"}},

		{"webhook event missing", func(d *desc) {
			caps(d).Webhooks[1].Event = ""
		}, []string{"capabilities.webhook[1].event: is required"}},
		{"webhook event unknown", func(d *desc) {
			caps(d).Webhooks[1].Event = "room_dance"
		}, []string{`capabilities.webhook[1].event: unknown event "room_dance"`}},
		{"webhook url missing", func(d *desc) { caps(d).Webhooks[0].URL = "" },
			[]string{"capabilities.webhook[0].url: is required"}},
		{"webhook url on another host", func(d *desc) {
			caps(d).Webhooks[0].URL = "https://example.org/echo"
		}, []string{"capabilities.webhook[0].url: must have the scheme and host"}},
		{"webhook pattern does not compile", func(d *desc) {
			caps(d).Webhooks[0].Pattern = "^/echo("
		}, []string{"capabilities.webhook[0].pattern: does not compile"}},
		{"webhook pattern on a room event", func(d *desc) {
			caps(d).Webhooks[1].Pattern = "hello"
		}, []string{"capabilities.webhook[1].pattern: " +
			`applies to room_message and room_notification only, not "room_enter"`}},
		{"webhook authentication none", func(d *desc) {
			caps(d).Webhooks[1].Authentication = WebhookAuthNone
		}, []string{`capabilities.webhook[1].authentication: "none" leaves the webhook unsigned`}},
		{"webhook authentication unknown", func(d *desc) {
			caps(d).Webhooks[1].Authentication = "JWT"
		}, []string{`capabilities.webhook[1].authentication: must be "jwt" or "none", not "JWT"`}},
		{"webhook key too long", func(d *desc) {
			caps(d).Webhooks[0].Key = strings.Repeat("w", 41)
		}, []string{"capabilities.webhook[0].key: must be at most 40 characters, not 41"}},
		{"webhook key duplicated", func(d *desc) {
			caps(d).Webhooks[1].Key = "echo"
		}, []string{`capabilities.webhook[1].key: duplicates capabilities.webhook[0].key "echo"`}},

		{"glance key missing", func(d *desc) { caps(d).Glances[0].Key = "" },
			[]string{"capabilities.glance[0].key: is required"}},
		{"glance key 41 characters", func(d *desc) {
			caps(d).Glances[0].Key = strings.Repeat("é", 41)
		}, []string{"capabilities.glance[0].key: must be at most 40 characters, not 41"}},
		{"glance key duplicated", func(d *desc) {
			caps(d).Glances = append(caps(d).Glances, caps(d).Glances[0].clone())
		}, []string{`capabilities.glance[1].key: duplicates capabilities.glance[0].key "echo.glance"`}},
		{"glance name missing", func(d *desc) { caps(d).Glances[0].Name = I18n{I18n: "x"} },
			[]string{"capabilities.glance[0].name.value: is required"}},
		{"glance queryUrl missing", func(d *desc) { caps(d).Glances[0].QueryURL = "" },
			[]string{"capabilities.glance[0].queryUrl: is required"}},
		{"glance queryUrl on another host", func(d *desc) {
			caps(d).Glances[0].QueryURL = "https://example.org/glance"
		}, []string{"capabilities.glance[0].queryUrl: must have the scheme and host"}},
		{"glance icon missing", func(d *desc) { caps(d).Glances[0].Icon = Icon{} },
			[]string{"capabilities.glance[0].icon.url: is required"}},
		{"glance icon relative", func(d *desc) { caps(d).Glances[0].Icon.URL = "icon.png" },
			[]string{"capabilities.glance[0].icon.url: must be an absolute"}},
		{"glance target empty", func(d *desc) { caps(d).Glances[0].Target = &Target{} },
			[]string{"capabilities.glance[0].target: is required"}},
		{"glance target unknown", func(d *desc) {
			caps(d).Glances[0].Target = &Target{Key: "nowhere"}
		}, []string{`capabilities.glance[0].target: "nowhere" names no dialog, web panel`}},
		{"glance condition unknown", func(d *desc) {
			caps(d).Glances[0].Conditions[0].Condition = "room_is_sunny"
		}, []string{`capabilities.glance[0].conditions[0].condition: unknown condition "room_is_sunny"`}},
		{"nested condition unknown", func(d *desc) {
			caps(d).Glances[0].Conditions[1].Conditions[1].Condition = "user_is_tall"
		}, []string{"capabilities.glance[0].conditions[1].conditions[1].condition: " +
			`unknown condition "user_is_tall"`}},
		{"condition empty", func(d *desc) {
			caps(d).Glances[0].Conditions[0] = Condition{Invert: true}
		}, []string{"capabilities.glance[0].conditions[0].condition: is required"}},
		{"condition group type unknown", func(d *desc) {
			caps(d).Glances[0].Conditions[1].Type = "xor"
		}, []string{`capabilities.glance[0].conditions[1].type: must be "and" or "or", not "xor"`}},
		{"condition group empty", func(d *desc) {
			caps(d).Glances[0].Conditions[1].Conditions = nil
		}, []string{"capabilities.glance[0].conditions[1].conditions: is required in a group"}},
		{"condition in both forms", func(d *desc) {
			caps(d).Glances[0].Conditions[1].Condition = ConditionUserIsGuest
		}, []string{"capabilities.glance[0].conditions[1]: has both condition and conditions"}},
		{"conditions nested too deep", func(d *desc) {
			c := Condition{Condition: ConditionUserIsAdmin}
			for range maxConditionNesting + 1 {
				c = Condition{Conditions: []Condition{c}}
			}
			caps(d).Actions[0].Conditions = []Condition{c}
		}, []string{"capabilities.action[0].conditions[0]" +
			strings.Repeat(".conditions[0]", maxConditionNesting) +
			".conditions: nested more than 16 levels deep"}},

		{"web panel key missing", func(d *desc) {
			caps(d).WebPanels = append(caps(d).WebPanels,
				WebPanel{Location: LocationSidebarRight, URL: base + "/p"})
		}, []string{"capabilities.webPanel[1].key: is required"}},
		{"web panel location missing", func(d *desc) { caps(d).WebPanels[0].Location = "" },
			[]string{"capabilities.webPanel[0].location: is required"}},
		{"web panel location unknown", func(d *desc) {
			caps(d).WebPanels[0].Location = "hipchat.sidebar.left"
		}, []string{"capabilities.webPanel[0].location: " +
			`unknown web panel location "hipchat.sidebar.left"`}},
		{"web panel url missing", func(d *desc) { caps(d).WebPanels[0].URL = "" },
			[]string{"capabilities.webPanel[0].url: is required"}},
		{"web panel icon relative", func(d *desc) { caps(d).WebPanels[0].Icon.URL = "p.png" },
			[]string{"capabilities.webPanel[0].icon.url: must be an absolute"}},
		{"web panel key shared with a dialog", func(d *desc) {
			caps(d).WebPanels[0].Key = "echo.dialog"
			caps(d).Glances[0].Target = nil
		}, []string{`capabilities.webPanel[0].key: duplicates capabilities.dialog[0].key "echo.dialog"`}},

		{"dialog key missing", func(d *desc) {
			caps(d).Dialogs[0].Key = ""
			caps(d).Actions[0].Target.Key = "echo.page"
		}, []string{"capabilities.dialog[0].key: is required"}},
		{"dialog key duplicated", func(d *desc) {
			caps(d).Dialogs = append(caps(d).Dialogs, Dialog{Key: "echo.dialog", URL: base + "/d2"})
		}, []string{`capabilities.dialog[1].key: duplicates capabilities.dialog[0].key "echo.dialog"`}},
		{"dialog url on another host", func(d *desc) {
			caps(d).Dialogs[0].URL = "https://example.org/dialog"
		}, []string{"capabilities.dialog[0].url: must have the scheme and host"}},
		{"dialog style unknown", func(d *desc) { caps(d).Dialogs[0].Options.Style = "danger" },
			[]string{`capabilities.dialog[0].options.style: must be "normal" or "warning", not "danger"`}},
		{"dialog primary action incomplete", func(d *desc) {
			caps(d).Dialogs[0].Options.PrimaryAction = &DialogAction{}
		}, []string{
			"capabilities.dialog[0].options.primaryAction.key: is required",
			"capabilities.dialog[0].options.primaryAction.name.value: is required",
		}},
		{"dialog secondary action without name", func(d *desc) {
			caps(d).Dialogs[0].Options.SecondaryActions[0].Name = I18n{}
		}, []string{"capabilities.dialog[0].options.secondaryActions[0].name.value: is required"}},
		{"dialog size not CSS", func(d *desc) {
			caps(d).Dialogs[0].Options.Size = &DialogSize{Width: "600 pixels", Height: "big"}
		}, []string{
			`capabilities.dialog[0].options.size.width: "600 pixels" is not a CSS length`,
			`capabilities.dialog[0].options.size.height: "big" is not a CSS length`,
		}},

		{"action key missing", func(d *desc) { caps(d).Actions[0].Key = "" },
			[]string{"capabilities.action[0].key: is required"}},
		{"action key duplicated", func(d *desc) { caps(d).Actions[1].Key = "echo.action" },
			[]string{`capabilities.action[1].key: duplicates capabilities.action[0].key "echo.action"`}},
		{"action name missing", func(d *desc) { caps(d).Actions[0].Name.Value = "" },
			[]string{"capabilities.action[0].name.value: is required"}},
		{"action name too long", func(d *desc) {
			caps(d).Actions[0].Name.Value = strings.Repeat("n", 101)
		}, []string{"capabilities.action[0].name.value: must be at most 100 characters, not 101"}},
		{"action location missing", func(d *desc) { caps(d).Actions[0].Location = "" },
			[]string{"capabilities.action[0].location: is required"}},
		{"action location unknown", func(d *desc) {
			caps(d).Actions[0].Location = LocationSidebarRight
		}, []string{`capabilities.action[0].location: unknown action location "hipchat.sidebar.right"`}},
		{"action target missing", func(d *desc) { caps(d).Actions[0].Target = Target{} },
			[]string{"capabilities.action[0].target: is required"}},
		{"action target names a glance", func(d *desc) {
			caps(d).Actions[1].Target = Target{Key: "echo.glance"}
		}, []string{`capabilities.action[1].target: "echo.glance" names no dialog, web panel`}},

		{"external page key missing", func(d *desc) {
			caps(d).ExternalPages[0].Key = ""
			caps(d).Actions[1].Target.Key = "echo.dialog"
		}, []string{"capabilities.externalPage[0].key: is required"}},
		{"external page key too long", func(d *desc) {
			caps(d).ExternalPages[0].Key = strings.Repeat("p", 41)
			caps(d).Actions[1].Target.Key = "echo.dialog"
		}, []string{"capabilities.externalPage[0].key: must be at most 40 characters"}},
		{"external page url missing", func(d *desc) { caps(d).ExternalPages[0].URL = "" },
			[]string{"capabilities.externalPage[0].url: is required"}},
		{"external page key shared with a web panel", func(d *desc) {
			caps(d).ExternalPages[0].Key = "echo.sidebar"
			caps(d).Actions[1].Target.Key = "echo.dialog"
		}, []string{"capabilities.externalPage[0].key: " +
			`duplicates capabilities.webPanel[0].key "echo.sidebar"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fullDescriptor()
			tt.mutate(d)
			got := descriptorProblems(t, d.Validate())
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems %q, want %d: %q", len(got), got, len(tt.want), tt.want)
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], want)
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	d := fullDescriptor()
	d.Name = ""
	d.Capabilities.Webhooks[1].Event = "nope"
	d.Capabilities.Glances[0].QueryURL = "https://elsewhere.example.org/q"
	d.Capabilities.Actions[0].Target.Key = "missing"

	err := d.Validate()
	got := descriptorProblems(t, err)
	want := []string{
		"name: is required",
		`capabilities.webhook[1].event: unknown event "nope"`,
		"capabilities.glance[0].queryUrl: must have the scheme and host",
		`capabilities.action[0].target: "missing" names no dialog`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems %q, want %d", len(got), got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
		if !strings.Contains(err.Error(), got[i]) {
			t.Errorf("Error() = %q does not contain problem %q", err.Error(), got[i])
		}
	}
	if !strings.HasPrefix(err.Error(), "addon: invalid capabilities descriptor: name: is required; ") {
		t.Errorf("Error() = %q, want the addon prefix and problems joined by \"; \"", err.Error())
	}
}

func TestValidateUnauthenticatedWebhooks(t *testing.T) {
	d := fullDescriptor()
	d.Capabilities.Webhooks[0].Authentication = WebhookAuthNone
	if err := d.Validate(); err == nil {
		t.Error("Validate() accepted a webhook with authentication \"none\"")
	}
	if err := d.validate(true); err != nil {
		t.Errorf("validate(true) = %v, want nil", err)
	}
	d.Capabilities.Webhooks[0].Authentication = "basic"
	if err := d.validate(true); err == nil {
		t.Error("validate(true) accepted authentication \"basic\"")
	}
}

func TestValidateNil(t *testing.T) {
	var d *CapabilitiesDescriptor
	if got := descriptorProblems(t, d.Validate()); len(got) != 1 {
		t.Errorf("nil descriptor: problems %q, want one", got)
	}
}

func TestValidateAcceptsWhatHipChatAccepted(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *desc)
	}{
		{"default port spelled out", func(d *desc) {
			d.Capabilities.Configurable.URL = "https://ADDON.example.com:443/configure"
		}},
		{"no installable", func(d *desc) { d.Capabilities.Installable = nil }},
		{"client-side install only", func(d *desc) {
			d.Capabilities.Installable = &Installable{InstalledURL: base + "/installed"}
		}},
		{"room_notification pattern", func(d *desc) {
			d.Capabilities.Webhooks[0].Event = EventRoomNotification
		}},
		{"webhook without key or name", func(d *desc) {
			d.Capabilities.Webhooks = append(d.Capabilities.Webhooks,
				Webhook{Event: EventRoomExit, URL: base + "/exit"},
				Webhook{Event: EventRoomExit, URL: base + "/exit2"})
		}},
		{"group type in capitals, or absent", func(d *desc) {
			d.Capabilities.Glances[0].Conditions[1].Type = "OR"
			d.Capabilities.Actions[0].Conditions = []Condition{
				{Conditions: []Condition{{Condition: ConditionUserIsGuest}}},
			}
		}},
		{"glance without target", func(d *desc) { d.Capabilities.Glances[0].Target = nil }},
		{"key of 40 multibyte characters", func(d *desc) {
			d.Capabilities.Glances[0].Key = strings.Repeat("é", 40)
		}},
		{"dialog without options", func(d *desc) { d.Capabilities.Dialogs[0].Options = nil }},
		{"same key in different kinds", func(d *desc) {
			d.Capabilities.Glances[0].Key = "echo.dialog"
			d.Capabilities.Actions[0].Key = "echo.dialog"
			d.Capabilities.Webhooks[0].Key = "echo.dialog"
		}},
		{"icons on another host", func(d *desc) {
			d.Capabilities.Glances[0].Icon = Icon{URL: "http://cdn.example.net/i.png"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fullDescriptor()
			tt.mutate(d)
			if err := d.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestInstallableAllowed(t *testing.T) {
	tests := []struct {
		name         string
		i            *Installable
		global, room bool
	}{
		{"nil installable", nil, true, true},
		{"unset", &Installable{}, true, true},
		{"room only", &Installable{AllowGlobal: Bool(false)}, false, true},
		{"global only", &Installable{AllowRoom: Bool(false), AllowGlobal: Bool(true)}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.i.GlobalAllowed(); got != tt.global {
				t.Errorf("GlobalAllowed() = %v, want %v", got, tt.global)
			}
			if got := tt.i.RoomAllowed(); got != tt.room {
				t.Errorf("RoomAllowed() = %v, want %v", got, tt.room)
			}
		})
	}
}

func TestDescriptorJSONRoundTrip(t *testing.T) {
	d := fullDescriptor()
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')

	golden := filepath.Join("testdata", "descriptor_full.json")
	if *updateGolden {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("JSON differs from %s (run with -update to rewrite it):\n%s", golden, data)
	}

	var back CapabilitiesDescriptor
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, d) {
		t.Errorf("round trip changed the descriptor:\n got %+v\nwant %+v", back, *d)
	}
}

// TestDescriptorWireNames reads the golden file generically, so that a
// renamed JSON tag is caught even if the golden file were rewritten.
func TestDescriptorWireNames(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "descriptor_full.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"key", "name", "description", "apiVersion", "links.self", "links.homepage",
		"vendor.name", "vendor.url",
		"capabilities.hipchatApiConsumer.scopes", "capabilities.hipchatApiConsumer.fromName",
		"capabilities.hipchatApiConsumer.avatar.url", "capabilities.hipchatApiConsumer.avatar.url@2x",
		"capabilities.installable.allowGlobal", "capabilities.installable.allowRoom",
		"capabilities.installable.callbackUrl", "capabilities.installable.updateCallbackUrl",
		"capabilities.installable.installedUrl", "capabilities.installable.updatedUrl",
		"capabilities.installable.uninstalledUrl",
		"capabilities.configurable.url", "capabilities.adminPage.url",
		"capabilities.webhook.0.event", "capabilities.webhook.0.url", "capabilities.webhook.0.pattern",
		"capabilities.webhook.0.name", "capabilities.webhook.0.key",
		"capabilities.webhook.1.authentication",
		"capabilities.glance.0.key", "capabilities.glance.0.name.value",
		"capabilities.glance.0.name.i18n",
		"capabilities.glance.0.queryUrl", "capabilities.glance.0.target.key",
		"capabilities.glance.0.target.options.focus", "capabilities.glance.0.icon.url@2x",
		"capabilities.glance.0.weight", "capabilities.glance.0.conditions.0.condition",
		"capabilities.glance.0.conditions.0.invert", "capabilities.glance.0.conditions.1.type",
		"capabilities.glance.0.conditions.1.conditions.0.condition",
		"capabilities.webPanel.0.key", "capabilities.webPanel.0.name.value",
		"capabilities.webPanel.0.location", "capabilities.webPanel.0.url",
		"capabilities.webPanel.0.icon.url", "capabilities.webPanel.0.weight",
		"capabilities.dialog.0.key", "capabilities.dialog.0.title.value", "capabilities.dialog.0.url",
		"capabilities.dialog.0.options.style", "capabilities.dialog.0.options.primaryAction.key",
		"capabilities.dialog.0.options.primaryAction.name.value",
		"capabilities.dialog.0.options.primaryAction.enabled",
		"capabilities.dialog.0.options.secondaryActions.0.key",
		"capabilities.dialog.0.options.size.width", "capabilities.dialog.0.options.size.height",
		"capabilities.dialog.0.options.hint.value",
		"capabilities.dialog.0.options.filter.placeholder.value",
		"capabilities.action.0.key", "capabilities.action.0.name.value", "capabilities.action.0.location",
		"capabilities.action.0.target", "capabilities.action.0.weight",
		"capabilities.action.0.conditions.0.params.pattern", "capabilities.action.1.target.options",
		"capabilities.externalPage.0.key", "capabilities.externalPage.0.name.value",
		"capabilities.externalPage.0.url",
	}
	for _, p := range paths {
		if _, ok := lookup(doc, p); !ok {
			t.Errorf("%s: missing from the JSON", p)
		}
	}
	if got, _ := lookup(doc, "capabilities.action.0.target"); got != "echo.dialog" {
		t.Errorf("action target without options = %#v, want the plain string", got)
	}
}

// lookup follows a dotted path through decoded JSON; numbers index arrays.
func lookup(doc any, path string) (any, bool) {
	for part := range strings.SplitSeq(path, ".") {
		switch v := doc.(type) {
		case map[string]any:
			var ok bool
			if doc, ok = v[part]; !ok {
				return nil, false
			}
		case []any:
			i := 0
			for _, r := range part {
				i = i*10 + int(r-'0')
			}
			if i >= len(v) {
				return nil, false
			}
			doc = v[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

func TestTargetJSON(t *testing.T) {
	tests := []struct {
		name   string
		target Target
		json   string
	}{
		{"key only", Target{Key: "dlg"}, `"dlg"`},
		{"empty options", Target{Key: "dlg", Options: map[string]any{}}, `"dlg"`},
		{"with options", Target{Key: "dlg", Options: map[string]any{"a": 1.0}},
			`{"key":"dlg","options":{"a":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.json {
				t.Errorf("Marshal = %s, want %s", got, tt.json)
			}
			ptr, err := json.Marshal(&tt.target)
			if err != nil || string(ptr) != tt.json {
				t.Errorf("Marshal(pointer) = %s, %v; want %s", ptr, err, tt.json)
			}
		})
	}
}

func TestTargetUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr bool
	}{
		{`"dlg"`, Target{Key: "dlg"}, false},
		{`{"key":"dlg"}`, Target{Key: "dlg"}, false},
		{`{"key":"dlg","options":{"x":[1,"y"]}}`,
			Target{Key: "dlg", Options: map[string]any{"x": []any{1.0, "y"}}}, false},
		{`null`, Target{Key: "kept"}, false},
		{`42`, Target{Key: "kept"}, true},
		{`["dlg"]`, Target{Key: "kept"}, true},
		{`{"key":7}`, Target{Key: "kept"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Target{Key: "kept"}
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Unmarshal(%s) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestConditionJSON(t *testing.T) {
	in := `[{"condition":"room_is_public","params":{"a":"b"},"invert":true},` +
		`{"conditions":[{"condition":"user_is_admin"}],"type":"or"}]`
	var cs []Condition
	if err := json.Unmarshal([]byte(in), &cs); err != nil {
		t.Fatal(err)
	}
	want := []Condition{
		{Condition: ConditionRoomIsPublic, Params: map[string]any{"a": "b"}, Invert: true},
		{Type: ConditionTypeOr, Conditions: []Condition{{Condition: ConditionUserIsAdmin}}},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("Unmarshal = %+v, want %+v", cs, want)
	}
	out, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("Marshal = %s, want %s", out, in)
	}
}

func TestNormalizedWebhookAuthentication(t *testing.T) {
	d := fullDescriptor()
	d.Capabilities.Webhooks = append(d.Capabilities.Webhooks,
		Webhook{Event: EventRoomExit, URL: base + "/exit", Authentication: WebhookAuthNone})
	n := d.normalized()

	want := []string{WebhookAuthJWT, WebhookAuthJWT, WebhookAuthNone}
	for i, w := range n.Capabilities.Webhooks {
		if w.Authentication != want[i] {
			t.Errorf("webhook[%d].authentication = %q, want %q", i, w.Authentication, want[i])
		}
	}
	if got := d.Capabilities.Webhooks[0].Authentication; got != "" {
		t.Errorf("normalized() changed the original's authentication to %q", got)
	}

	data, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	explicit := `"pattern":"^/echo\\b","name":"Echo","key":"echo","authentication":"jwt"`
	if !bytes.Contains(data, []byte(explicit)) {
		t.Errorf("served JSON does not say \"jwt\" explicitly: %s", data)
	}
}

func TestNormalizedDoesNotAlias(t *testing.T) {
	orig := fullDescriptor()
	n := orig.normalized()
	assertNoSharing(t, reflect.ValueOf(orig), reflect.ValueOf(n), "descriptor")

	// Change everything reachable through the copy; the original must not
	// notice.
	c := &n.Capabilities
	n.Vendor.Name = "changed"
	c.HipchatAPIConsumer.Scopes[0] = "changed"
	c.HipchatAPIConsumer.Avatar.URL = "changed"
	*c.Installable.AllowGlobal = true
	c.Configurable.URL = "changed"
	c.AdminPage.URL = "changed"
	c.Webhooks[0].URL = "changed"
	c.Glances[0].Target.Options["focus"] = false
	c.Glances[0].Conditions[1].Conditions[0].Condition = "changed"
	c.WebPanels[0].Icon.URL = "changed"
	*c.Dialogs[0].Options.PrimaryAction.Enabled = false
	c.Dialogs[0].Options.SecondaryActions[0].Key = "changed"
	c.Dialogs[0].Options.Size.Width = "1px"
	c.Dialogs[0].Options.Hint.Value = "changed"
	c.Dialogs[0].Options.Filter.Placeholder.Value = "changed"
	c.Actions[0].Conditions[0].Params["flags"].([]any)[0] = "changed"
	c.Actions[1].Target.Options["size"].(map[string]any)["w"] = 0.0
	c.ExternalPages[0].URL = "changed"

	if !reflect.DeepEqual(orig, fullDescriptor()) {
		t.Errorf("changing the normalized copy changed the original: %+v", orig)
	}
}

func TestCloneNil(t *testing.T) {
	var d *CapabilitiesDescriptor
	if d.Clone() != nil || d.normalized() != nil {
		t.Error("Clone or normalized of nil is not nil")
	}
	e := &CapabilitiesDescriptor{Key: "k"}
	if got := e.Clone(); !reflect.DeepEqual(got, e) || got == e {
		t.Errorf("Clone() = %p %+v, want a distinct equal copy of %p", got, got, e)
	}
}

// assertNoSharing walks a and b together and fails if any pointer, slice
// or map reachable from both is the same memory.
func assertNoSharing(t *testing.T, a, b reflect.Value, path string) {
	t.Helper()
	if a.Kind() != b.Kind() {
		return
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: pointer shared", path)
			return
		}
		assertNoSharing(t, a.Elem(), b.Elem(), path)
	case reflect.Interface:
		if !a.IsNil() && !b.IsNil() {
			assertNoSharing(t, a.Elem(), b.Elem(), path)
		}
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: slice shared", path)
			return
		}
		for i := 0; i < a.Len() && i < b.Len(); i++ {
			assertNoSharing(t, a.Index(i), b.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		if a.IsNil() || b.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: map shared", path)
			return
		}
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); bv.IsValid() {
				assertNoSharing(t, a.MapIndex(k), bv, path+"."+k.String())
			}
		}
	case reflect.Struct:
		for i := range a.NumField() {
			assertNoSharing(t, a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)
		}
	}
}

func FuzzDescriptor(f *testing.F) {
	if golden, err := os.ReadFile(filepath.Join("testdata", "descriptor_full.json")); err == nil {
		f.Add(golden)
	}
	for _, seed := range []string{
		`{"key":"k","name":"n","description":"d","links":{"self":"https://a.example/c"}}`,
		`{"capabilities":{"webhook":[{"event":"room_exit","pattern":"(","authentication":"none"}]}}`,
		`{"capabilities":{"action":[{"target":{"key":"x","options":{}}}],"glance":[{"target":"y"}]}}`,
		`{"capabilities":{"glance":[{"conditions":[{"conditions":[{"conditions":[]}],"type":"AND"}]}]}}`,
		`{"links":{"self":"http://[::1]:80/c"},"capabilities":{"configurable":{"url":"http://[::1]/x"}}}`,
		`{"capabilities":{"dialog":[{"options":{"size":{"width":"1e9px"},"primaryAction":{}}}]}}`,
		`{"capabilities":{"installable":{"allowGlobal":false,"allowRoom":false}}}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		var d CapabilitiesDescriptor
		if err := json.Unmarshal(data, &d); err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			var de *DescriptorError
			if !errors.As(err, &de) || len(de.Problems) == 0 {
				t.Fatalf("Validate() = %v, want a *DescriptorError with problems", err)
			}
		}
		_ = d.validate(true)

		n := d.normalized()
		for i, w := range n.Capabilities.Webhooks {
			if w.Authentication == "" {
				t.Fatalf("normalized webhook[%d] has no authentication", i)
			}
		}

		// Marshalling must be stable across a round trip.
		first, err := json.Marshal(&d)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var back CapabilitiesDescriptor
		if err := json.Unmarshal(first, &back); err != nil {
			t.Fatalf("Unmarshal of our own JSON %s: %v", first, err)
		}
		second, err := json.Marshal(&back)
		if err != nil {
			t.Fatalf("Marshal after round trip: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("round trip changed the JSON:\n%s\n%s", first, second)
		}
	})
}
