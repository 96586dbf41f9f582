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
	"flag"
	"fmt"
	"net"
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
	e := newEchoer(log)
	opts := append(e.options(), addon.TrustedServers(strings.Split(hipchat, ",")...))
	a, err := addon.OpenWithStateFile(descriptor(base), stateFile, opts...)
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
		a.Shutdown(sctx)
	}()

	fmt.Fprintf(os.Stderr, "echo add-on: descriptor at %s/capabilities.json\n", strings.TrimSuffix(base, "/"))
	return a.Serve(addr)
}
