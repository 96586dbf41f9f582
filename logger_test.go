package addon

import (
	"bytes"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"
)

// Both logrus types are accepted as they are, as AddonLogger promises.
var (
	_ AddonLogger = (*logrus.Logger)(nil)
	_ AddonLogger = (*logrus.Entry)(nil)
)

// logEach logs one line at every level, each naming its level.
func logEach(l AddonLogger) {
	l.Debugf("d %d", 1)
	l.Infof("i %d", 2)
	l.Warnf("w %d", 3)
	l.Errorf("e %d", 4)
}

// captureDefaultLog sends log.Default's output to a buffer until the test
// ends. Tests using it must not run in parallel.
func captureDefaultLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	w, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetOutput(&buf)
	log.SetFlags(0)
	log.SetPrefix("")
	t.Cleanup(func() {
		log.SetOutput(w)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	})
	return &buf
}

func TestStdLoggerLevels(t *testing.T) {
	tests := []struct {
		name  string
		debug bool
		want  string
	}{
		{"without debug", false, "info: i 2\nwarn: w 3\nerror: e 4\n"},
		{"with debug", true, "debug: d 1\ninfo: i 2\nwarn: w 3\nerror: e 4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logEach(NewStdLogger(log.New(&buf, "", 0), tt.debug))
			if got := buf.String(); got != tt.want {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStdLoggerKeepsPrefixAndFlags(t *testing.T) {
	var buf bytes.Buffer
	NewStdLogger(log.New(&buf, "myaddon ", log.Lmsgprefix), false).Warnf("x=%q", "y")
	if got, want := buf.String(), "myaddon warn: x=\"y\"\n"; got != want {
		t.Errorf("logged %q, want %q", got, want)
	}
}

func TestStdLoggerNilUsesDefault(t *testing.T) {
	buf := captureDefaultLog(t)
	logEach(NewStdLogger(nil, false))
	if got, want := buf.String(), "info: i 2\nwarn: w 3\nerror: e 4\n"; got != want {
		t.Errorf("log.Default got %q, want %q", got, want)
	}
}

// textLogger returns a slog logger writing text without timestamps to buf,
// enabled from level min upwards.
func textLogger(buf *bytes.Buffer, min slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{
		Level: min,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}
	return slog.New(slog.NewTextHandler(buf, opts))
}

func TestSlogLoggerLevels(t *testing.T) {
	tests := []struct {
		name string
		min  slog.Level
		want []string
	}{
		{"from debug", slog.LevelDebug, []string{
			`level=DEBUG msg="d 1"`, `level=INFO msg="i 2"`,
			`level=WARN msg="w 3"`, `level=ERROR msg="e 4"`,
		}},
		{"from info", slog.LevelInfo, []string{
			`level=INFO msg="i 2"`, `level=WARN msg="w 3"`, `level=ERROR msg="e 4"`,
		}},
		{"from error", slog.LevelError, []string{`level=ERROR msg="e 4"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logEach(NewSlogLogger(textLogger(&buf, tt.min)))
			got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("logged\n%s\nwant\n%s", buf.String(), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// countingStringer counts how often it is formatted.
type countingStringer struct{ n atomic.Int64 }

func (c *countingStringer) String() string {
	c.n.Add(1)
	return "formatted"
}

func TestSlogLoggerSkipsDisabledLevels(t *testing.T) {
	var buf bytes.Buffer
	l := NewSlogLogger(textLogger(&buf, slog.LevelWarn))
	arg := &countingStringer{}

	l.Debugf("%v", arg)
	l.Infof("%v", arg)
	if n := arg.n.Load(); n != 0 || buf.Len() != 0 {
		t.Errorf("disabled levels formatted %d times and wrote %q", n, buf.String())
	}

	l.Warnf("%v", arg)
	if n := arg.n.Load(); n != 1 || !strings.Contains(buf.String(), "msg=formatted") {
		t.Errorf("enabled level formatted %d times and wrote %q", n, buf.String())
	}
}

func TestSlogLoggerNilUsesDefault(t *testing.T) {
	// slog's default logger writes through log.Default at level info.
	buf := captureDefaultLog(t)
	logEach(NewSlogLogger(nil))
	if got, want := buf.String(), "INFO i 2\nWARN w 3\nERROR e 4\n"; got != want {
		t.Errorf("slog.Default got %q, want %q", got, want)
	}
}

func TestLogrusLogger(t *testing.T) {
	var buf bytes.Buffer
	l := logrus.New()
	l.SetOutput(&buf)
	l.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true, DisableColors: true})

	logEach(l.WithField("oauth_id", "abc"))
	want := []string{
		`level=info msg="i 2" oauth_id=abc`,
		`level=warning msg="w 3" oauth_id=abc`,
		`level=error msg="e 4" oauth_id=abc`,
	}
	if got := strings.TrimSuffix(buf.String(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("logged\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

func TestDiscardLoggerWritesNothing(t *testing.T) {
	buf := captureDefaultLog(t)
	l := discardLogger()
	logEach(l)

	if buf.Len() != 0 {
		t.Errorf("discardLogger wrote %q to log.Default", buf.String())
	}
	// An adapter over a real logger must point it at io.Discard.
	if std, ok := l.(*stdLogger); ok && (std.l.Writer() != io.Discard || std.debug) {
		t.Errorf("discardLogger writes to %v with debug=%v, want io.Discard without debug",
			std.l.Writer(), std.debug)
	}
}
