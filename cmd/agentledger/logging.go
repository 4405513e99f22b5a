package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
)

// newLogger is serve's logger: text (the default) or JSON lines, at a level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "info", "":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, usagef("--log-level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(masking{slog.NewTextHandler(w, opts)}), nil
	case "json":
		return slog.New(masking{slog.NewJSONHandler(w, opts)}), nil
	}
	return nil, usagef("--log-format must be text or json, not %q", format)
}

// masking masks card numbers and key secrets in every message and string
// value before it is written: a line that quotes what a caller sent (an
// error, a panic, the HTTP server's own complaints) must not carry one.
type masking struct{ slog.Handler }

func (m masking) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, engine.MaskSecrets(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return m.Handler.Handle(ctx, out)
}

func (m masking) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return masking{m.Handler.WithAttrs(masked)}
}

func (m masking) WithGroup(name string) slog.Handler { return masking{m.Handler.WithGroup(name)} }

func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if engine.IsAnyID(v.String()) {
			return a
		}
		return slog.String(a.Key, engine.MaskSecrets(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, engine.MaskSecrets(err.Error()))
		}
	case slog.KindGroup:
		group := v.Group()
		masked := make([]any, len(group))
		for i, g := range group {
			masked[i] = maskAttr(g)
		}
		return slog.Group(a.Key, masked...)
	}
	return a
}

// spacedNumber is a run of 13 to 19 digits that may be grouped by single
// separators of any kind ("4111+1111+1111+1111", "4111.1111…"): in what a
// caller sent (a path, a tool's arguments) it is taken for a card number.
var spacedNumber = regexp.MustCompile(`\d(?:[^A-Za-z0-9]?\d){12,18}`)

// maskCaller masks what a caller sent for a log line (a path, an argument):
// key secrets and card numbers however they are grouped, segment by
// segment, leaving the engine's own ids whole.
func maskCaller(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		if !engine.IsAnyID(p) {
			parts[i] = maskNumbers(engine.MaskSecrets(p))
		}
	}
	return strings.Join(parts, "/")
}

func maskNumbers(s string) string {
	return spacedNumber.ReplaceAllStringFunc(s, func(run string) string {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, run)
		return "····" + digits[len(digits)-4:]
	})
}

// millis is a duration for a log line, in milliseconds with microseconds.
func millis(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

// logSink writes one line per money decision, tool call and HTTP request.
// None carries a secret: cards appear by their last four digits, keys by
// their id, and no argument, body or query is logged.
func logSink(logger *slog.Logger) sink {
	return sink{
		Decided: func(o engine.Observation) {
			attrs := []any{"kind", o.Kind, "id", o.ID, "agent", o.AgentID}
			if o.CardLast4 != "" {
				attrs = append(attrs, "card_last4", o.CardLast4)
			}
			attrs = append(attrs, "amount", engine.FormatAmount(o.Amount, o.Currency), "status", o.Status)
			if o.DeclineCode != "" {
				attrs = append(attrs, "decline_code", o.DeclineCode)
			}
			attrs = append(attrs, "risk_score", o.RiskScore, "engine_ms", millis(o.Duration))
			logger.Info("decision", attrs...)
		},
		ToolCall: func(c mcp.ToolCall) {
			result := "ok"
			if c.Code != "" {
				result = c.Code
			}
			logger.Info("tool call", "tool", c.Tool, "action", maskCaller(c.Action), "agent", maskCaller(c.AgentID), "key", c.KeyID,
				"result", result, "ms", millis(c.Duration))
		},
		Request: func(r mcp.RequestInfo) {
			level := slog.LevelInfo
			if r.Status >= 500 {
				level = slog.LevelWarn
			}
			logger.Log(context.Background(), level, "http request", "method", r.Method, "path", maskCaller(r.Path), "status", r.Status,
				"key", r.KeyID, "ms", millis(r.Duration))
		},
	}
}
