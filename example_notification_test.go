package addon_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/hipchat-connect/addon"
)

// A notification with a link card. The message is plain text, so it needs
// no escaping, and it stays as the fallback for clients that cannot show
// cards.
func ExampleNotification_card() {
	n := addon.TextNotification("Build #42 failed: https://ci.example.com/builds/42").
		WithCard(&addon.Card{
			Style:       addon.CardStyleLink,
			ID:          "build-42",
			Title:       "Build #42 failed",
			Description: &addon.CardDescription{Value: "3 tests failed on main"},
			URL:         "https://ci.example.com/builds/42",
			Attributes: []addon.CardAttribute{{
				Label: "Status",
				Value: addon.CardAttributeValue{
					Label: "failed",
					Style: addon.CardAttributeStyleLozengeError,
				},
			}},
		})
	n.Color = addon.ColorRed

	if err := n.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(n); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {
	//   "message": "Build #42 failed: https://ci.example.com/builds/42",
	//   "message_format": "text",
	//   "color": "red",
	//   "card": {
	//     "style": "link",
	//     "id": "build-42",
	//     "title": "Build #42 failed",
	//     "description": "3 tests failed on main",
	//     "url": "https://ci.example.com/builds/42",
	//     "attributes": [
	//       {
	//         "label": "Status",
	//         "value": {
	//           "label": "failed",
	//           "style": "lozenge-error"
	//         }
	//       }
	//     ]
	//   }
	// }
}

// Validate reports every problem at once, each naming its JSON field.
func ExampleNotification_Validate() {
	n := &addon.Notification{
		Color: "blue",
		Card:  &addon.Card{Style: addon.CardStyleImage, ID: "img-1"},
	}
	err := n.Validate()
	fmt.Println(errors.Is(err, addon.ErrInvalidNotification))
	fmt.Println(err)
	// Output:
	// true
	// addon: invalid notification: message: required; color: "blue" is not one of yellow, green, red, purple, gray, random; card.title: required
}
