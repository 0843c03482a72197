// Package log is the one logging wrapper of Nest: structured, sentence-case
// messages with key/value pairs, built on log/slog. Packages take a
// *slog.Logger (or read it from a context) instead of calling log or klog.
package log

import (
	"context"
	"io"
	"log/slog"
)

// New returns a text logger writing to w. verbosity 0 logs Info and above,
// 1 and more logs Debug too; quiet loggers pass -1 (Warn and above).
func New(w io.Writer, verbosity int) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case verbosity < 0:
		level = slog.LevelWarn
	case verbosity > 0:
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// Discard returns a logger that drops everything; for tests and library
// callers that do not care.
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

type contextKey struct{}

// IntoContext returns a copy of ctx carrying logger.
func IntoContext(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, contextKey{}, logger)
}

// FromContext returns the logger carried by ctx, or one that discards.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(contextKey{}).(*slog.Logger); ok {
		return l
	}
	return Discard()
}
