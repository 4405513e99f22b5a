package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format must be text or json, not %q", format)
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
			logger.Info("tool call", "tool", c.Tool, "action", engine.MaskSecrets(c.Action), "agent", engine.MaskSecrets(c.AgentID), "key", c.KeyID,
				"result", result, "ms", millis(c.Duration))
		},
		Request: func(r mcp.RequestInfo) {
			level := slog.LevelInfo
			if r.Status >= 500 {
				level = slog.LevelWarn
			}
			logger.Log(context.Background(), level, "http request", "method", r.Method, "path", engine.MaskSecrets(r.Path), "status", r.Status,
				"key", r.KeyID, "ms", millis(r.Duration))
		},
	}
}
