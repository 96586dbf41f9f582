package addon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"golang.org/x/sync/singleflight"
)

// HipChatAddon is a HipChat Connect add-on: it serves its capabilities
// descriptor and the routes the descriptor declares, keeps its
// installations in an [InstallationStore], and calls HipChat's API on their
// behalf. Build one with [New] or [Open]; mount [HipChatAddon.Routes] on a
// mux, or run [HipChatAddon.Serve].
//
// A HipChatAddon is safe for concurrent use.
type HipChatAddon struct {
	descriptor     *CapabilitiesDescriptor
	descriptorJSON []byte
	store          InstallationStore
	cfg            config
	trusted        []trustedServer
	scopes         []string
	scopeKey       string // of scopes, for the token cache
	verifier       *verifier
	tokens         *tokenCache
	routes         []Route

	installMu  sync.Mutex // serialises changes to the store's installations
	forgetting singleflight.Group

	// callbacks tracks callbacks running on their own goroutines, so that
	// Close can wait for them.
	callbacks sync.WaitGroup

	serverMu sync.Mutex // guards server and closed
	server   *http.Server
	closed   bool
}

// New returns an add-on for the descriptor that keeps its installations in
// store. It panics if the descriptor or the options can never work, with a
// message that lists every problem; [Open] returns them as an error
// instead.
func New(descriptor *CapabilitiesDescriptor, store InstallationStore,
	opts ...Option) *HipChatAddon {
	a, err := Open(descriptor, store, opts...)
	if err != nil {
		panic(err.Error())
	}
	return a
}

// NewWithStateFile is like [New] with a [FileInstallationStore] kept at
// path, which is created if it does not exist. It panics if the descriptor
// is invalid or the state file cannot be opened (it is damaged, or locked by
// another process): a damaged file is never replaced by an empty store.
// [OpenWithStateFile] returns the error instead.
func NewWithStateFile(descriptor *CapabilitiesDescriptor, path string,
	opts ...Option) *HipChatAddon {
	a, err := OpenWithStateFile(descriptor, path, opts...)
	if err != nil {
		panic(err.Error())
	}
	return a
}

// OpenWithStateFile is like [Open] with a [FileInstallationStore] kept at
// path. [HipChatAddon.Close] closes the store.
func OpenWithStateFile(descriptor *CapabilitiesDescriptor, path string,
	opts ...Option) (*HipChatAddon, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	store, err := NewFileInstallationStore(path, WithFileStoreLogger(cfg.logger))
	if err != nil {
		return nil, err
	}
	a, err := Open(descriptor, store, opts...)
	if err != nil {
		store.Close()
		return nil, err
	}
	return a, nil
}

// Open returns an add-on for the descriptor that keeps its installations in
// store. It validates the descriptor and the options together and returns a
// *[DescriptorError] that lists every problem found.
//
// The descriptor is copied: changing it afterwards has no effect. Webhooks
// that do not name an authentication are served with "jwt".
func Open(descriptor *CapabilitiesDescriptor, store InstallationStore,
	opts ...Option) (*HipChatAddon, error) {
	if descriptor == nil {
		return nil, errors.New("addon: nil descriptor")
	}
	if store == nil {
		return nil, errors.New("addon: nil installation store")
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}

	d := descriptor.normalized()
	problems := problemsOf(d.validate(cfg.allowUnauthenticatedHooks))
	trusted, bad := parseTrustedServers(cfg.trustedServers)
	problems = append(problems, bad...)
	problems = append(problems, handlerProblems(d, &cfg)...)

	a := &HipChatAddon{descriptor: d, store: store, cfg: cfg, trusted: trusted}
	a.verifier = newVerifier(store, cfg.logger)
	a.verifier.now, a.verifier.leeway, a.verifier.maxTokenLen = cfg.now, cfg.clockSkew, cfg.maxTokenSize
	a.tokens = newTokenCache(a)
	if d.Capabilities.HipchatAPIConsumer != nil {
		a.scopes = append([]string(nil), d.Capabilities.HipchatAPIConsumer.Scopes...)
	}
	a.scopeKey = scopeKey(a.scopes)
	routes, bad := a.buildRoutes()
	problems = append(problems, bad...)
	if len(problems) > 0 {
		return nil, &DescriptorError{Problems: problems}
	}
	a.routes = routes

	js, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("addon: encoding descriptor: %w", err)
	}
	a.descriptorJSON = js
	warnUnhandled(d, &cfg)
	return a, nil
}

// problemsOf unpacks what validation found.
func problemsOf(err error) []string {
	if err == nil {
		return nil
	}
	var de *DescriptorError
	if errors.As(err, &de) {
		return append([]string(nil), de.Problems...)
	}
	return []string{err.Error()}
}

// Descriptor returns a copy of the descriptor the add-on serves.
func (a *HipChatAddon) Descriptor() *CapabilitiesDescriptor { return a.descriptor.Clone() }

// Store returns the add-on's installation store.
func (a *HipChatAddon) Store() InstallationStore { return a.store }

// Installation returns a copy of the installation with the given oauthId,
// or an error wrapping [ErrInstallationNotFound].
func (a *HipChatAddon) Installation(ctx context.Context, oauthID string) (*Installation, error) {
	return a.store.Get(ctx, oauthID)
}

// Installations returns copies of every installation.
func (a *HipChatAddon) Installations(ctx context.Context) ([]*Installation, error) {
	return a.store.List(ctx)
}

// Close stops the server started by [HipChatAddon.Serve] at once, waits
// for callbacks still running, and closes the store if it is an io.Closer.
// Use [HipChatAddon.Shutdown] first for a graceful stop.
func (a *HipChatAddon) Close() error {
	a.serverMu.Lock()
	srv := a.server
	already := a.closed
	a.closed = true
	a.serverMu.Unlock()
	if already {
		return nil
	}

	var errs []error
	if srv != nil {
		errs = append(errs, srv.Close())
	}
	a.callbacks.Wait()
	if c, ok := a.store.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// goCallback runs fn on its own goroutine, tracked for Close, and recovers
// a panic so that one callback cannot take the add-on down.
func (a *HipChatAddon) goCallback(name string, inst *Installation, fn func()) {
	a.callbacks.Add(1)
	go func() {
		defer a.callbacks.Done()
		defer func() {
			if r := recover(); r != nil {
				a.cfg.logger.Errorf("%s callback panicked for %s: %v", name, inst.OAuthID, r)
			}
		}()
		fn()
	}()
}
