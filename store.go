package addon

import (
	"context"
	"errors"
)

// ErrInstallationNotFound is returned by an [InstallationStore] asked for,
// or asked to delete, an oauthId it does not hold.
var ErrInstallationNotFound = errors.New("addon: installation not found")

// InstallationStore keeps the add-on's installations. The library calls it
// from many goroutines at once, so implementations must be safe for
// concurrent use.
//
// Implementations hand out copies: a value returned by Get or List must not
// be shared with the store's own state, and Add must copy what it is given.
// An Add or Delete that returns nil must be durable to whatever degree the
// store promises; one that returns an error must leave the store as it was.
//
// A store that also implements io.Closer is closed by [HipChatAddon.Close].
type InstallationStore interface {
	// Get returns the installation with the given oauthId, or an error
	// wrapping ErrInstallationNotFound.
	Get(ctx context.Context, oauthID string) (*Installation, error)
	// Add stores the installation, replacing any with the same OAuthID.
	Add(ctx context.Context, inst *Installation) error
	// Delete forgets the installation with the given oauthId. It returns an
	// error wrapping ErrInstallationNotFound, and changes nothing, when the
	// store does not hold it.
	Delete(ctx context.Context, oauthID string) error
	// List returns every installation, in no particular order.
	List(ctx context.Context) ([]*Installation, error)
}
