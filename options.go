package addon

import (
	"context"
	"net/http"
	"time"
)

// Option configures a [HipChatAddon]; pass options to [New], [Open],
// [NewWithStateFile] or [OpenWithStateFile].
type Option func(*config)

// HipchatAddonOption is the name the original API gave to options.
type HipchatAddonOption = Option

// Defaults of the settings options can change.
const (
	// DefaultHipChatServer is the HipChat server trusted when no
	// [TrustedServers] option is given.
	DefaultHipChatServer = "https://api.hipchat.com"
	// DefaultMaxBodySize bounds the body of any request the add-on serves.
	DefaultMaxBodySize = 1 << 20
	// DefaultPageTokenLifetime is how long a token made by
	// [HipChatAddon.PageToken] stays valid.
	DefaultPageTokenLifetime = 15 * time.Minute
	// DefaultTokenRenewal is how long before its expiry an access token is
	// renewed.
	DefaultTokenRenewal = time.Minute
)

type config struct {
	logger AddonLogger
	client HttpDoer
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error

	installCallback     func(*HipChatAddon, *Installation) error
	installedCallback   func(*HipChatAddon, *Installation)
	updatedCallback     func(*HipChatAddon, *Installation)
	uninstallCallback   func(*HipChatAddon, *Installation) error
	uninstalledCallback func(*HipChatAddon, *Installation)

	trustedServers            []string
	allowUnauthenticatedHooks bool
	allowedOrigins            []string

	clockSkew        time.Duration
	maxTokenSize     int
	maxBodySize      int64
	pageTokenTTL     time.Duration
	tokenRenewal     time.Duration
	rateLimitRetries int
	rateLimitMaxWait time.Duration

	webhooks     map[string]WebhookHandler
	glances      map[string]GlanceHandler
	pages        map[string]http.Handler
	configurable http.Handler
	adminPage    http.Handler
}

func defaultConfig() config {
	return config{
		logger:         NewStdLogger(nil, false),
		client:         &http.Client{Timeout: 30 * time.Second},
		now:            time.Now,
		sleep:          sleepContext,
		trustedServers: []string{DefaultHipChatServer},
		clockSkew:      DefaultClockSkew,
		maxTokenSize:   DefaultMaxTokenSize,
		maxBodySize:    DefaultMaxBodySize,
		pageTokenTTL:   DefaultPageTokenLifetime,
		tokenRenewal:   DefaultTokenRenewal,
		webhooks:       map[string]WebhookHandler{},
		glances:        map[string]GlanceHandler{},
		pages:          map[string]http.Handler{},
	}
}

// Logger sets what the add-on logs through. The default adapts the
// standard library's default logger and drops debug lines.
func Logger(logger AddonLogger) Option {
	return func(c *config) {
		if logger != nil {
			c.logger = logger
		}
	}
}

// HttpClient sets what the add-on sends its HTTP requests with: to
// HipChat's capabilities document, token endpoint and API. The default is
// an *http.Client with a 30 second timeout. Anything with a Do method will
// do, which makes HipChat easy to fake in tests (see package addontest for
// a fake HipChat server).
func HttpClient(client HttpDoer) Option {
	return func(c *config) {
		if client != nil {
			c.client = client
		}
	}
}

// InstallCallback sets a function that is called once an installation has
// proven its credentials and before it is stored. Returning an error refuses
// the installation: HipChat is answered 403 and nothing is stored.
func InstallCallback(fn func(a *HipChatAddon, installation *Installation) error) Option {
	return func(c *config) { c.installCallback = fn }
}

// InstalledCallback sets a function that is called after a new installation
// has been stored. It runs on its own goroutine, after HipChat has been
// answered, so it may call HipChat's API.
func InstalledCallback(fn func(a *HipChatAddon, installation *Installation)) Option {
	return func(c *config) { c.installedCallback = fn }
}

// UpdatedCallback sets a function that is called, like the
// [InstalledCallback], after HipChat updated a known installation with
// fresh credentials.
func UpdatedCallback(fn func(a *HipChatAddon, installation *Installation)) Option {
	return func(c *config) { c.updatedCallback = fn }
}

// UninstallCallback sets a function that is called when an uninstallation
// has been confirmed with HipChat, before the installation is forgotten.
// Returning an error keeps the installation in the store.
func UninstallCallback(fn func(a *HipChatAddon, installation *Installation) error) Option {
	return func(c *config) { c.uninstallCallback = fn }
}

// UninstalledCallback sets a function that is called after an installation
// has been forgotten. It runs on its own goroutine.
func UninstalledCallback(fn func(a *HipChatAddon, installation *Installation)) Option {
	return func(c *config) { c.uninstalledCallback = fn }
}

// TrustedServers sets the base URLs of the HipChat servers that may install
// the add-on, such as "https://hipchat.example.com". An install whose
// capabilities URL, token URL or API URL is not under one of them is refused
// before anything is fetched. The default is [DefaultHipChatServer].
func TrustedServers(baseURLs ...string) Option {
	return func(c *config) { c.trustedServers = append([]string(nil), baseURLs...) }
}

// AllowUnauthenticatedWebhooks permits webhooks declared with
// authentication "none". HipChat does not sign such webhooks, so anyone who
// can reach the add-on can send them in any installation's name; the
// handler still receives them with the installation their body names.
func AllowUnauthenticatedWebhooks() Option {
	return func(c *config) { c.allowUnauthenticatedHooks = true }
}

// AllowedOrigins adds browser origins, such as "https://chat.example.com",
// that may read glance query answers. The origins of the installation's
// HipChat server are always allowed.
func AllowedOrigins(origins ...string) Option {
	return func(c *config) { c.allowedOrigins = append(c.allowedOrigins, origins...) }
}

// ClockSkew sets how far the clocks of HipChat and the add-on may disagree
// when signed requests are checked. Zero keeps the default,
// [DefaultClockSkew]; a negative d allows no skew at all.
func ClockSkew(d time.Duration) Option {
	return func(c *config) { c.clockSkew = d }
}

// MaxTokenSize sets the largest signed-request token accepted, in bytes;
// larger ones are refused before they are decoded. Zero or less keeps the
// default, [DefaultMaxTokenSize].
func MaxTokenSize(n int) Option {
	return func(c *config) { c.maxTokenSize = n }
}

// MaxBodySize sets the largest request body the add-on reads; a larger one
// is answered 413. The default is [DefaultMaxBodySize].
func MaxBodySize(n int64) Option {
	return func(c *config) { c.maxBodySize = n }
}

// PageTokenLifetime sets how long tokens made by [HipChatAddon.PageToken]
// stay valid. The default is [DefaultPageTokenLifetime].
func PageTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.pageTokenTTL = d }
}

// TokenRenewal sets how long before its expiry an access token is renewed.
// The default is [DefaultTokenRenewal].
func TokenRenewal(d time.Duration) Option {
	return func(c *config) { c.tokenRenewal = d }
}

// RetryRateLimited makes calls to HipChat's API that are answered 429 wait
// until the reset time HipChat names and try again, at most retries times,
// and never waiting longer than maxWait at once. Without it, such a call
// returns a *[RateLimitError] at once. Waiting respects the call's context.
func RetryRateLimited(retries int, maxWait time.Duration) Option {
	return func(c *config) {
		c.rateLimitRetries = retries
		c.rateLimitMaxWait = maxWait
	}
}

// Clock sets the function the add-on reads the time from, for token expiry
// and signed-request checks. Tests use it; the default is time.Now.
func Clock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// OnWebhook sets the handler of the webhooks of one event, such as
// [EventRoomMessage]. The descriptor must declare a webhook for the event.
func OnWebhook(event string, h WebhookHandler) Option {
	return func(c *config) { c.webhooks[event] = h }
}

// OnGlanceQuery sets the function that answers the query URL of the glance
// with the given key.
func OnGlanceQuery(key string, h GlanceHandler) Option {
	return func(c *config) { c.glances[key] = h }
}

// ConfigurableHandler sets the handler of the configuration page
// (capabilities.configurable.url). It is served behind signed-request
// verification: see [InstallationFromContext].
func ConfigurableHandler(h http.Handler) Option {
	return func(c *config) { c.configurable = h }
}

// AdminPageHandler sets the handler of the admin page
// (capabilities.adminPage.url), served like [ConfigurableHandler].
func AdminPageHandler(h http.Handler) Option {
	return func(c *config) { c.adminPage = h }
}

// PageHandler sets the handler of the dialog, web panel or external page
// with the given key, served like [ConfigurableHandler]. Actions open these
// pages by key.
func PageHandler(key string, h http.Handler) Option {
	return func(c *config) { c.pages[key] = h }
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
