// Command echo is a HipChat Connect add-on that answers "/echo <text>" in a
// room with <text>, and shows in a glance how many messages it echoed.
//
//	echo -port 3000 -url https://echo.example.com -hipchat https://hipchat.example.com
//
// It serves its descriptor at /capabilities.json; install it in HipChat
// from that URL. Installations are kept in the state file, so a restarted
// add-on still knows them.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hipchat-connect/addon"
	"github.com/sirupsen/logrus"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 3000, "port to listen on")
	base := flag.String("url", "", "public base URL of the add-on (default http://host:port)")
	stateFile := flag.String("state-file", "echo-addon.db", "file the installations are kept in")
	hipchat := flag.String("hipchat", addon.DefaultHipChatServer,
		"comma-separated base URLs of the HipChat servers trusted to install the add-on")
	flag.Parse()

	log := logrus.StandardLogger()
	if err := run(log, *host, *port, *base, *stateFile, *hipchat); err != nil {
		log.Fatal(err)
	}
}

func run(log *logrus.Logger, host string, port int, base, stateFile, hipchat string) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if base == "" {
		base = "http://" + addr
	}
	a, srv, err := newServer(log, addr, base, stateFile, strings.Split(hipchat, ","))
	if err != nil {
		return err
	}
	defer a.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	log.Infof("echo add-on: descriptor at %s/capabilities.json", strings.TrimSuffix(base, "/"))
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer opens the echo add-on on its state file and returns it with
// a server for its routes and the glance icon, on a mux of its own.
func newServer(log *logrus.Logger, addr, base, stateFile string, hipchat []string) (*addon.HipChatAddon, *http.Server, error) {
	e := newEchoer(log)
	opts := append(e.options(), addon.TrustedServers(hipchat...))
	a, err := addon.OpenWithStateFile(descriptor(base), stateFile, opts...)
	if err != nil {
		return nil, nil, err
	}

	mux := http.NewServeMux()
	for _, route := range a.Routes() {
		mux.HandleFunc(route.Path, route.Handler)
	}
	mux.HandleFunc("GET /icon.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		io.WriteString(w, icon)
	})
	srv := &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: addon.ReadHeaderTimeout,
		ReadTimeout:       addon.ReadTimeout,
		WriteTimeout:      addon.WriteTimeout,
		IdleTimeout:       addon.IdleTimeout,
	}
	return a, srv, nil
}
