package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// newLogger returns a JSON logger on w whose handler masks any 12-digit
// token: the code never logs a citizen ID on purpose, and this makes sure a
// wrapped error that quotes one cannot leak it either.
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

// routeLibraryLogs sends the lines of libraries that log through a
// process-wide logger to log as JSON: go-redis v9 (redis.SetLogger is its
// only hook: one package-level logger, no per-client option) at warn, and
// the standard log package (slog.SetDefault), which some libraries print
// to. This is process state, so only main calls it, once, with the
// process's handler (the level from SOHOA_LOG_LEVEL; a --log-level flag
// is parsed later, per command, and applies to sohoa's own lines). asynq
// takes a logger per server (asynqLogger in runtime.go).
func routeLibraryLogs(log *slog.Logger) {
	redis.SetLogger(redisLogger{log})
	slog.SetDefault(log)
}

// redisLogger adapts slog to go-redis's logging interface.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// logger is the process's logger at the configured level.
func (c *config) logger(w io.Writer) *slog.Logger { return newLogger(w, c.LogLevel) }

// digitRun is a run of digits; redact masks those that stand as a citizen
// ID: exactly 12 digits not joined to letters. Runs inside hashes, request
// IDs and keys are left alone, so log lines still match audit records.
var digitRun = regexp.MustCompile(`[0-9]+`)

func redact(s string) string {
	idx := digitRun.FindAllStringIndex(s, -1)
	if idx == nil {
		return s
	}
	isAlnum := func(i int) bool {
		c := s[i]
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		i, j := m[0], m[1]
		if j-i != 12 || i > 0 && isAlnum(i-1) || j < len(s) && isAlnum(j) {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString("********")
		b.WriteString(s[j-4 : j])
		last = j
	}
	b.WriteString(s[last:])
	return b.String()
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
