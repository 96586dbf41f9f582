package main

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/hipchat-connect/addon"
)

// glanceKey is the key of the glance that counts echoes.
const glanceKey = "echo-count"

// echoer answers "/echo <text>" in a room with <text>, and counts how many
// messages it echoed in each room of each installation.
type echoer struct {
	log addon.AddonLogger

	mu     sync.Mutex // guards counts
	counts map[string]int
}

func newEchoer(log addon.AddonLogger) *echoer {
	return &echoer{log: log, counts: map[string]int{}}
}

// descriptor is the echo add-on's capabilities descriptor, served from
// base (such as "https://echo.example.com").
func descriptor(base string) *addon.CapabilitiesDescriptor {
	base = strings.TrimSuffix(base, "/")
	return &addon.CapabilitiesDescriptor{
		Key:         "hipchat-connect-echo",
		Name:        "Echo",
		Description: "Echoes /echo messages back to the room.",
		Links: addon.Links{
			Self:     base + "/capabilities.json",
			Homepage: base + "/",
		},
		Vendor: &addon.Vendor{Name: "HipChat Connect for Go", URL: base + "/"},
		Capabilities: addon.Capabilities{
			HipchatAPIConsumer: &addon.HipchatAPIConsumer{
				FromName: "Echo",
				Scopes:   []string{addon.ScopeSendNotification},
			},
			Installable: &addon.Installable{
				CallbackURL: base + "/installable",
			},
			Webhooks: []addon.Webhook{{
				Event:   addon.EventRoomMessage,
				URL:     base + "/echo",
				Pattern: `^/echo(\s|$)`,
				Name:    "Echo",
			}},
			Glances: []addon.Glance{{
				Key:      glanceKey,
				Name:     addon.I18n{Value: "Echoes"},
				QueryURL: base + "/glance",
				Icon:     addon.Icon{URL: base + "/icon.svg"},
			}},
		},
	}
}

// options are the add-on options that make the echo add-on.
func (e *echoer) options() []addon.Option {
	return []addon.Option{
		addon.OnWebhook(addon.EventRoomMessage, e.onMessage),
		addon.OnGlanceQuery(glanceKey, e.onGlanceQuery),
		addon.Logger(e.log),
		addon.InstalledCallback(e.welcome),
	}
}

// welcome greets the room the add-on was installed in.
func (e *echoer) welcome(a *addon.HipChatAddon, inst *addon.Installation) {
	if inst.IsGlobal() {
		return
	}
	n := &addon.Notification{Message: "Echo is installed. Try /echo hello.", MessageFormat: "text"}
	if err := a.SendNotification(inst, n); err != nil {
		e.log.Warnf("welcome notification for %s: %v", inst.OAuthID, err)
	}
}

// onMessage echoes the text after "/echo", then tells the room's glance
// the new count.
func (e *echoer) onMessage(ctx context.Context, a *addon.HipChatAddon, inst *addon.Installation, ev *addon.WebhookEvent) (*addon.Notification, error) {
	text, ok := strings.CutPrefix(ev.MessageText(), "/echo")
	text = strings.TrimSpace(text)
	room := ev.RoomID()
	if !ok || text == "" || room == 0 {
		return nil, nil
	}

	n := &addon.Notification{Message: text, MessageFormat: "text", Color: "green"}
	if err := a.SendRoomNotification(ctx, inst, strconv.Itoa(room), n); err != nil {
		return nil, err
	}
	count := e.count(inst.OAuthID, room)
	scope := addon.GlanceScope{RoomID: room}
	update := addon.GlanceUpdate{Key: glanceKey, Content: *glanceData(count)}
	if err := a.UpdateGlance(ctx, inst, scope, update); err != nil {
		return nil, err
	}
	return nil, nil
}

// count adds one echo in a room and returns the new total.
func (e *echoer) count(oauthID string, room int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := oauthID + "/" + strconv.Itoa(room)
	e.counts[k]++
	return e.counts[k]
}

func (e *echoer) current(oauthID string, room int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[oauthID+"/"+strconv.Itoa(room)]
}

func (e *echoer) onGlanceQuery(ctx context.Context, a *addon.HipChatAddon, inst *addon.Installation, q *addon.GlanceQuery) (*addon.GlanceData, error) {
	return glanceData(e.current(inst.OAuthID, q.RoomID)), nil
}

func glanceData(count int) *addon.GlanceData {
	return addon.NewGlanceData("Echoes").WithLozenge(strconv.Itoa(count), "default")
}

// icon is the glance's icon: a speech bubble.
const icon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">` +
	`<path d="M2 2h12v9H6l-3 3v-3H2z" fill="#205081"/></svg>`
