package addon

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
)

// AddonLogger is what the library logs through. A *logrus.Logger and a
// *logrus.Entry satisfy it as they are; [NewStdLogger] adapts the standard
// library's *log.Logger and [NewSlogLogger] a *slog.Logger.
//
// The library logs one event per line, names the installation by its
// oauthId, and never logs a secret or a token.
type AddonLogger interface {
	Debugf(format string, args ...interface{})
	Infof(format string, args ...interface{})
	Warnf(format string, args ...interface{})
	Errorf(format string, args ...interface{})
}

// NewStdLogger adapts a standard library logger. Each line is prefixed with
// its level; debug lines are dropped unless debug is true. A nil logger
// means log.Default().
func NewStdLogger(l *log.Logger, debug bool) AddonLogger {
	if l == nil {
		l = log.Default()
	}
	return &stdLogger{l: l, debug: debug}
}

type stdLogger struct {
	l     *log.Logger
	debug bool
}

func (s *stdLogger) Debugf(format string, args ...interface{}) {
	if s.debug {
		s.l.Printf("debug: "+format, args...)
	}
}

func (s *stdLogger) Infof(format string, args ...interface{}) {
	s.l.Printf("info: "+format, args...)
}

func (s *stdLogger) Warnf(format string, args ...interface{}) {
	s.l.Printf("warn: "+format, args...)
}

func (s *stdLogger) Errorf(format string, args ...interface{}) {
	s.l.Printf("error: "+format, args...)
}

// NewSlogLogger adapts a structured logger from log/slog. Messages are
// formatted with fmt and logged at the matching slog level. A nil logger
// means slog.Default().
func NewSlogLogger(l *slog.Logger) AddonLogger {
	if l == nil {
		l = slog.Default()
	}
	return &slogLogger{l: l}
}

type slogLogger struct{ l *slog.Logger }

func (s *slogLogger) logf(level slog.Level, format string, args []interface{}) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, fmt.Sprintf(format, args...))
}

func (s *slogLogger) Debugf(format string, args ...interface{}) {
	s.logf(slog.LevelDebug, format, args)
}

func (s *slogLogger) Infof(format string, args ...interface{}) {
	s.logf(slog.LevelInfo, format, args)
}

func (s *slogLogger) Warnf(format string, args ...interface{}) {
	s.logf(slog.LevelWarn, format, args)
}

func (s *slogLogger) Errorf(format string, args ...interface{}) {
	s.logf(slog.LevelError, format, args)
}

// discardLogger drops everything; tests use it to keep output quiet.
func discardLogger() AddonLogger { return NewStdLogger(log.New(io.Discard, "", 0), false) }
