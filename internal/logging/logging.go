package logging

import (
	"fmt"
	"io"
	"log/slog"
)

// AttrActor is the attribute key naming the component that logs a record,
// such as "BLOCKCHAIN" or "RPC_SERVER". The text format prints it before the
// message; the JSON format keeps it as an ordinary attribute.
const AttrActor = "actor"

// DefaultActor is printed for a record that carries no actor.
const DefaultActor = "NODE"

// Formats accepted by New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// New returns a logger writing records at or above level to w. Format
// "text" (or "") gives the original's line style with a timestamp before
// it, "json" gives slog's JSON handler (which has its own "time"); any
// other format is an error.
func New(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	switch format {
	case "", FormatText:
		return slog.New(NewLineHandler(w, &LineOptions{Level: level, Time: true})), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
	default:
		return nil, fmt.Errorf("logging: unknown format %q (want %q or %q)", format, FormatText, FormatJSON)
	}
}

// Actor returns l with its actor set to name.
func Actor(l *slog.Logger, name string) *slog.Logger {
	return l.With(AttrActor, name)
}
