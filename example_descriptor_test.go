package addon_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/hipchat-connect/addon"
)

func ExampleCapabilitiesDescriptor() {
	const base = "https://echo.example.com"
	d := &addon.CapabilitiesDescriptor{
		Key:         "com.example.echo",
		Name:        "Echo",
		Description: "Repeats what is said to it.",
		Links:       addon.Links{Self: base + "/capabilities.json"},
		Capabilities: addon.Capabilities{
			HipchatAPIConsumer: &addon.HipchatAPIConsumer{
				Scopes: []string{addon.ScopeSendNotification},
			},
			Installable: &addon.Installable{
				AllowGlobal: addon.Bool(false),
				CallbackURL: base + "/installable",
			},
			Webhooks: []addon.Webhook{{
				Event:          addon.EventRoomMessage,
				URL:            base + "/echo",
				Pattern:        "^/echo",
				Authentication: addon.WebhookAuthJWT,
			}},
		},
	}
	if err := d.Validate(); err != nil {
		fmt.Println(err)
		return
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {
	//   "key": "com.example.echo",
	//   "name": "Echo",
	//   "description": "Repeats what is said to it.",
	//   "links": {
	//     "self": "https://echo.example.com/capabilities.json"
	//   },
	//   "capabilities": {
	//     "hipchatApiConsumer": {
	//       "scopes": [
	//         "send_notification"
	//       ]
	//     },
	//     "installable": {
	//       "allowGlobal": false,
	//       "callbackUrl": "https://echo.example.com/installable"
	//     },
	//     "webhook": [
	//       {
	//         "event": "room_message",
	//         "url": "https://echo.example.com/echo",
	//         "pattern": "^/echo",
	//         "authentication": "jwt"
	//       }
	//     ]
	//   }
	// }
}

func ExampleCapabilitiesDescriptor_Validate() {
	d := &addon.CapabilitiesDescriptor{
		Key:   "com.example.echo",
		Name:  "Echo",
		Links: addon.Links{Self: "https://echo.example.com/capabilities.json"},
		Capabilities: addon.Capabilities{
			Webhooks: []addon.Webhook{{
				Event: addon.EventRoomEnter,
				URL:   "https://elsewhere.example.org/enter",
			}},
			Actions: []addon.Action{{
				Key:      "echo.action",
				Name:     addon.I18n{Value: "Echo"},
				Location: addon.LocationMessageAction,
				Target:   addon.Target{Key: "echo.dialog"},
			}},
		},
	}

	var de *addon.DescriptorError
	if errors.As(d.Validate(), &de) {
		for _, p := range de.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// description: is required
	// capabilities.webhook[0].url: must have the scheme and host of links.self (https://echo.example.com)
	// capabilities.action[0].target: "echo.dialog" names no dialog, web panel or external page of this descriptor
}
