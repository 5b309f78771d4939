package core

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

type level = slog.Level

const (
	levelDebug = slog.LevelDebug
	levelInfo  = slog.LevelInfo
	levelWarn  = slog.LevelWarn
	levelError = slog.LevelError
)

var (
	logLevel  = new(slog.LevelVar)
	logger    = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	onceMu    sync.Mutex
	onceSeen  = map[string]struct{}{}
	onceLimit = 10000
)

// SetLogLevel takes debug, info, warn or error.
func SetLogLevel(s string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err == nil {
		logLevel.Set(l)
	}
}

func logf(l level, format string, args ...any) {
	if !logger.Enabled(context.Background(), l) {
		return
	}
	logger.Log(context.Background(), l, fmt.Sprintf(format, args...))
}

// Infof, Warnf and Errorf log a line at their level.
func Infof(format string, args ...any)  { logf(levelInfo, format, args...) }
func Warnf(format string, args ...any)  { logf(levelWarn, format, args...) }
func Errorf(format string, args ...any) { logf(levelError, format, args...) }
func Debugf(format string, args ...any) { logf(levelDebug, format, args...) }

// WarnOnce logs a warning the first time key is seen, so a reason that
// applies to every connection (no route for a port, say) is said once rather
// than flooding the log.
func WarnOnce(key string, format string, args ...any) {
	onceMu.Lock()
	_, seen := onceSeen[key]
	if !seen && len(onceSeen) < onceLimit {
		onceSeen[key] = struct{}{}
	}
	onceMu.Unlock()
	if !seen {
		logf(levelWarn, format, args...)
	}
}

// ResetOnce forgets which warnings were given, after a config change.
func ResetOnce() {
	onceMu.Lock()
	clear(onceSeen)
	onceMu.Unlock()
}
