package addon

import (
	"fmt"
	"io"
	"time"
)

// Installation is one installation of the add-on in a HipChat group: either
// in a single room, or global (group-wide) when RoomID is zero.
//
// HipChat creates one OAuth client per installation. OAuthID identifies the
// installation; OAuthSecret both proves the add-on to HipChat's token
// endpoint and keys the JWTs HipChat signs its requests with, so it must be
// kept secret. Installation formats itself without it whatever the fmt
// verb, so it can be logged safely. fmt cannot call the methods of an
// Installation kept in an unexported struct field, though, and prints such
// a field's secret.
//
// Values handed out by the library and by every [InstallationStore] are
// copies: a caller may read and modify them freely without racing the
// library.
type Installation struct {
	OAuthID     string
	OAuthSecret string

	// CapabilitiesURL is HipChat's own capabilities document, as given in
	// the install request.
	CapabilitiesURL string
	// TokenURL and APIURL were read from that document at install time.
	// APIURL is the API base and ends with "/v2/".
	TokenURL string
	APIURL   string

	GroupID   int
	GroupName string
	// RoomID is the room the add-on was installed in, or zero for a global
	// installation.
	RoomID int

	InstalledAt time.Time
	UpdatedAt   time.Time
}

// IsGlobal reports whether the installation covers the whole group rather
// than one room.
func (i *Installation) IsGlobal() bool { return i.RoomID == 0 }

// Clone returns a copy of i that shares nothing with it.
func (i *Installation) Clone() *Installation {
	if i == nil {
		return nil
	}
	c := *i
	return &c
}

// String describes the installation without its secret. It has a value
// receiver so that fmt uses it for an Installation as well as for a
// *Installation; fmt prints a nil *Installation as "<nil>".
func (i Installation) String() string {
	if i.IsGlobal() {
		return fmt.Sprintf("installation %s (group %d, global)", i.OAuthID, i.GroupID)
	}
	return fmt.Sprintf("installation %s (group %d, room %d)", i.OAuthID, i.GroupID, i.RoomID)
}

// Format writes [Installation.String] for every verb, so that no verb
// makes fmt print the fields, secret included.
func (i Installation) Format(f fmt.State, verb rune) { io.WriteString(f, i.String()) }

// GoString is like String, so that %#v does not print the secret either.
func (i Installation) GoString() string { return i.String() }
