package main

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
)

// newLogger returns a JSON logger on w whose handler masks any run of 12 or
// more digits: the code never logs a citizen ID on purpose, and this makes
// sure a wrapped error that quotes one cannot leak it either.
func newLogger(w io.Writer, levelName string) *slog.Logger {
	level := slog.LevelInfo
	switch levelName {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(redactHandler{h})
}

// logger is the process's logger at the configured level.
func (c *config) logger(w io.Writer) *slog.Logger { return newLogger(w, c.LogLevel) }

var longDigits = regexp.MustCompile(`\d{12,}`)

func redact(s string) string {
	return longDigits.ReplaceAllStringFunc(s, func(m string) string {
		return strings.Repeat("*", len(m)-4) + m[len(m)-4:]
	})
}

// redactHandler masks long digit runs in the message and string attributes.
type redactHandler struct{ next slog.Handler }

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redactHandler{h.next.WithAttrs(red)}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = redactAttr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, redact(err.Error()))
		}
		return slog.String(a.Key, redact(v.String()))
	}
	return a
}
