package addon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Route is one path the add-on serves. Path is a plain URL path; a Path
// ending in "/" stands for every path below it, as in net/http's ServeMux.
// Handler checks the method itself (answering 405 to others), limits the
// body, and verifies signed requests where the protocol signs them.
type Route struct {
	Path    string
	Methods []string
	Handler http.HandlerFunc
}

// Server timeouts used by [HipChatAddon.Serve].
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 120 * time.Second
)

// Routes returns every route the descriptor implies: the descriptor itself
// at links.self, the install and uninstall callbacks, the webhooks, the
// glance query URLs, and the pages that have handlers. Mount them on any
// mux:
//
//	for _, route := range a.Routes() {
//		mux.HandleFunc(route.Path, route.Handler)
//	}
func (a *HipChatAddon) Routes() []Route {
	return slices.Clone(a.routes)
}

// Handler returns a ServeMux holding [HipChatAddon.Routes].
func (a *HipChatAddon) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, route := range a.routes {
		mux.HandleFunc(route.Path, route.Handler)
	}
	return mux
}

// Serve listens on addr and serves [HipChatAddon.Handler] with timeouts
// suited to the internet until [HipChatAddon.Shutdown] or
// [HipChatAddon.Close] is called, when it returns nil.
func (a *HipChatAddon) Serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("addon: %w", err)
	}
	return a.ServeListener(ln)
}

// ServeListener is like [HipChatAddon.Serve] on a listener the caller made.
func (a *HipChatAddon) ServeListener(ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	a.serverMu.Lock()
	if a.closed || a.server != nil {
		a.serverMu.Unlock()
		ln.Close()
		return errors.New("addon: already serving or closed")
	}
	a.server = srv
	a.serverMu.Unlock()

	a.cfg.logger.Infof("serving %s on %s", a.descriptor.Key, ln.Addr())
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the server started by [HipChatAddon.Serve] gracefully:
// it stops accepting connections and waits, until ctx is done, for the
// requests under way. It does not close the store; call
// [HipChatAddon.Close] after it.
func (a *HipChatAddon) Shutdown(ctx context.Context) error {
	a.serverMu.Lock()
	srv := a.server
	a.serverMu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// routeSet collects routes and reports two owners of one path.
type routeSet struct {
	routes   []Route
	owners   map[string]string
	problems []string
}

func (s *routeSet) add(owner, path string, h http.HandlerFunc, methods ...string) {
	if prev, ok := s.owners[path]; ok {
		s.problems = append(s.problems,
			fmt.Sprintf("%s: path %s is already served by %s", owner, path, prev))
		return
	}
	s.owners[path] = owner
	s.routes = append(s.routes, Route{Path: path, Methods: methods, Handler: h})
}

// buildRoutes derives the routes from the descriptor and the handlers.
func (a *HipChatAddon) buildRoutes() ([]Route, []string) {
	d := a.descriptor
	c := &d.Capabilities
	s := &routeSet{owners: map[string]string{}}
	wrap := a.wrapRoute

	s.add("links.self", urlPath(d.Links.Self), wrap(a.handleDescriptor, "GET", "HEAD"), "GET", "HEAD")

	if in := c.Installable; in != nil {
		if in.CallbackURL != "" {
			p := strings.TrimSuffix(urlPath(in.CallbackURL), "/")
			if p == "" {
				s.problems = append(s.problems,
					"capabilities.installable.callbackUrl: must not be the root path")
				p = "/callback"
			}
			s.add("installable.callbackUrl", p, wrap(a.handleInstall, "POST"), "POST")
			s.add("installable.callbackUrl", p+"/",
				wrap(a.handleUninstallDelete(p+"/"), "DELETE"), "DELETE")
		}
		if in.UpdateCallbackURL != "" && urlPath(in.UpdateCallbackURL) != urlPath(in.CallbackURL) {
			s.add("installable.updateCallbackUrl", urlPath(in.UpdateCallbackURL),
				wrap(a.handleInstall, "POST"), "POST")
		}
		if in.InstalledURL != "" {
			s.add("installable.installedUrl", urlPath(in.InstalledURL),
				wrap(a.handleClientInstall, "GET"), "GET")
		}
		if in.UpdatedURL != "" && urlPath(in.UpdatedURL) != urlPath(in.InstalledURL) {
			s.add("installable.updatedUrl", urlPath(in.UpdatedURL),
				wrap(a.handleClientInstall, "GET"), "GET")
		}
		if in.UninstalledURL != "" {
			s.add("installable.uninstalledUrl", urlPath(in.UninstalledURL),
				wrap(a.handleClientUninstall, "GET"), "GET")
		}
	}

	a.addWebhookRoutes(s)
	for i, g := range c.Glances {
		if g.QueryURL != "" {
			s.add(fmt.Sprintf("capabilities.glance[%d]", i), urlPath(g.QueryURL),
				wrap(a.handleGlanceQuery(g.Key), "GET", "OPTIONS"), "GET", "OPTIONS")
		}
	}
	a.addPageRoutes(s)
	return s.routes, s.problems
}

// urlPath is the path of a descriptor URL, which validation has checked.
func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// wrapRoute answers 405 to other methods and limits the request body.
func (a *HipChatAddon) wrapRoute(h http.HandlerFunc, methods ...string) http.HandlerFunc {
	allow := strings.Join(methods, ", ")
	limit := a.cfg.maxBodySize
	return func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(methods, r.Method) {
			w.Header().Set("Allow", allow)
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength > limit {
			http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge),
				http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h(w, r)
	}
}

// handleDescriptor serves the capabilities descriptor.
func (a *HipChatAddon) handleDescriptor(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(a.descriptorJSON)
}
