package addontest

import (
	"encoding/json"
	"net/url"
	"testing"
)

// FuzzParseDescriptor feeds the descriptor parser, which reads whatever the
// add-on under test serves.
func FuzzParseDescriptor(f *testing.F) {
	f.Add([]byte(`{"key":"k","name":"n","links":{"self":"http://a/c"}}`))
	f.Add([]byte(`{"key":"k","name":"n","links":{"self":"/c"},"capabilities":{
		"hipchatApiConsumer":{"scopes":["send_notification"]},
		"webhook":[{"event":"room_message","url":"/w","pattern":"^/x(","authentication":"jwt"}],
		"glance":[{"key":"g","icon":{"url":"/i"}}]}}`))
	f.Add([]byte(`{"capabilities":{"webhook":[{"event":1}]}}`))
	f.Add([]byte(`[]`))
	base, _ := url.Parse("http://127.0.0.1:1/capabilities.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseDescriptor(body, base)
		if err != nil {
			return
		}
		if d.Key == "" || d.Name == "" || d.Links.Self == "" {
			t.Fatalf("accepted a descriptor without key, name or links.self: %s", body)
		}
		for _, w := range d.Capabilities.Webhooks {
			if w.Pattern != "" && w.re == nil {
				t.Fatal("accepted a webhook whose pattern was not compiled")
			}
		}
	})
}

// FuzzCheckNotification feeds the notification validation, which reads the
// bodies the add-on under test posts.
func FuzzCheckNotification(f *testing.F) {
	f.Add([]byte(`{"message":"hi"}`))
	f.Add([]byte(`{"message":"m","color":"red","message_format":"text","notify":true}`))
	f.Add([]byte(`{"message":"m","card":{"style":"link","id":"1","title":"t",` +
		`"description":{"value":"v","format":"html"},"thumbnail":{"url":"u"}}}`))
	f.Add([]byte(`{"message":"m","card":{"style":"link"}}`))
	f.Add([]byte(`{"message":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req notificationRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		if checkNotification(req) == nil && (req.Message == nil || *req.Message == "") {
			t.Fatalf("accepted a notification without a message: %s", body)
		}
	})
}
