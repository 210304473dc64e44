package logging

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// LineOptions configures a LineHandler. The zero value logs at INFO and
// above without a timestamp (New turns the timestamp on).
type LineOptions struct {
	// Level is the minimum level logged; nil means slog.LevelInfo.
	Level slog.Leveler
	// Time prefixes each line with the record's local time in Python
	// logging's asctime style (2006-01-02 15:04:05,000). The original
	// prints no time, but an operator reading a log of hours cannot do
	// without it; tests that compare whole lines leave it off.
	Time bool
}

// LineHandler is a slog.Handler that writes one line per record in
// PyNaive Chain's style, after the time when LineOptions.Time is set:
//
//	2026-12-05 12:00:00,123 [LEVEL]: ACTOR-message key=value key2="value with spaces"
//
// LEVEL is DEBUG, INFO, WARNING or ERROR (Python's names; a level between
// two of them takes the lower name). ACTOR is the last ungrouped attribute
// named AttrActor, from the record or from With, or DefaultActor. Attributes
// inside groups are printed with dotted keys (group.key=value).
//
// A LineHandler is safe for concurrent use; the handlers derived from it by
// WithAttrs and WithGroup share its writer and its lock.
type LineHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	opts  LineOptions
	actor string // "" when no actor was given by WithAttrs
	pre   []byte // attributes from WithAttrs, already formatted, each with its leading space
	group string // dotted prefix for keys added from now on, "" or ending in '.'
}

// NewLineHandler returns a LineHandler writing to w. opts may be nil.
func NewLineHandler(w io.Writer, opts *LineOptions) *LineHandler {
	h := &LineHandler{mu: new(sync.Mutex), w: w}
	if opts != nil {
		h.opts = *opts
	}
	return h
}

// Enabled reports whether level is at or above the handler's minimum level.
func (h *LineHandler) Enabled(_ context.Context, level slog.Level) bool {
	minLevel := slog.LevelInfo
	if h.opts.Level != nil {
		minLevel = h.opts.Level.Level()
	}
	return level >= minLevel
}

// Handle formats r as one line and writes it with a single Write.
func (h *LineHandler) Handle(_ context.Context, r slog.Record) error {
	actor := h.actor
	var attrs []byte
	r.Attrs(func(a slog.Attr) bool {
		if h.group == "" && a.Key == AttrActor {
			actor = a.Value.Resolve().String()
			return true
		}
		attrs = appendAttr(attrs, h.group, a)
		return true
	})
	if actor == "" {
		actor = DefaultActor
	}

	buf := make([]byte, 0, 64+len(r.Message)+len(h.pre)+len(attrs))
	if h.opts.Time && !r.Time.IsZero() {
		t := r.Time.Local()
		buf = t.AppendFormat(buf, "2006-01-02 15:04:05")
		buf = append(buf, ',')
		buf = appendPadded(buf, t.Nanosecond()/int(time.Millisecond), 3)
		buf = append(buf, ' ')
	}
	buf = append(buf, '[')
	buf = append(buf, levelName(r.Level)...)
	buf = append(buf, "]: "...)
	buf = append(buf, actor...)
	buf = append(buf, '-')
	buf = append(buf, r.Message...)
	buf = append(buf, h.pre...)
	buf = append(buf, attrs...)
	buf = append(buf, '\n')

	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(buf)
	return err
}

// WithAttrs returns a handler whose lines also carry attrs.
func (h *LineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.pre = append([]byte(nil), h.pre...)
	for _, a := range attrs {
		if h.group == "" && a.Key == AttrActor {
			h2.actor = a.Value.Resolve().String()
			continue
		}
		h2.pre = appendAttr(h2.pre, h.group, a)
	}
	return &h2
}

// WithGroup returns a handler that prefixes the keys of later attributes
// with name and a dot.
func (h *LineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

// levelName maps slog levels to the names Python's logging prints.
func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// appendAttr appends " key=value" for a, flattening groups into dotted keys
// and skipping empty attributes and empty groups, as slog's handlers do.
func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			buf = appendAttr(buf, p, ga)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = appendMaybeQuoted(buf, prefix+a.Key)
	buf = append(buf, '=')
	var s string
	switch a.Value.Kind() {
	case slog.KindTime:
		s = a.Value.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			s = err.Error()
		} else {
			s = a.Value.String()
		}
	default:
		s = a.Value.String()
	}
	return appendMaybeQuoted(buf, s)
}

// appendMaybeQuoted appends s, quoted with strconv.Quote when it is empty or
// holds anything that would make the line ambiguous: spaces, '=', quotes,
// control or non-printing characters, invalid UTF-8.
func appendMaybeQuoted(buf []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b <= ' ' || b == '=' || b == '"' || b == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

func appendPadded(buf []byte, n, width int) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}
