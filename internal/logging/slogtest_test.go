package logging

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"testing/slogtest"
)

// TestSlogConformance runs the standard library's handler test suite. The
// line format is parsed back into the nested maps the suite expects.
func TestSlogConformance(t *testing.T) {
	var buf bytes.Buffer
	h := NewLineHandler(&buf, &LineOptions{Time: true})
	results := func() []map[string]any {
		var ms []map[string]any
		for line := range strings.Lines(buf.String()) {
			m, err := parseLine(strings.TrimSuffix(line, "\n"))
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			ms = append(ms, m)
		}
		return ms
	}
	if err := slogtest.TestHandler(h, results); err != nil {
		t.Error(err)
	}
}

// parseLine reads "[date time,ms ][LEVEL]: ACTOR-msg k=v ..." for messages
// without spaces, as slogtest's are.
func parseLine(line string) (map[string]any, error) {
	m := map[string]any{}
	if !strings.HasPrefix(line, "[") {
		date, rest, ok := strings.Cut(line, " ")
		clock, rest2, ok2 := strings.Cut(rest, " ")
		if !ok || !ok2 {
			return nil, fmt.Errorf("bad time prefix")
		}
		m[slog.TimeKey] = date + " " + clock
		line = rest2
	}
	level, rest, ok := strings.Cut(strings.TrimPrefix(line, "["), "]: ")
	if !ok {
		return nil, fmt.Errorf("no level")
	}
	m[slog.LevelKey] = level
	_, rest, ok = strings.Cut(rest, "-")
	if !ok {
		return nil, fmt.Errorf("no actor")
	}
	msg, rest, _ := strings.Cut(rest, " ")
	m[slog.MessageKey] = msg
	for rest != "" {
		key, r, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, fmt.Errorf("no '=' in %q", rest)
		}
		var val string
		if strings.HasPrefix(r, `"`) {
			q, err := strconv.QuotedPrefix(r)
			if err != nil {
				return nil, err
			}
			val, _ = strconv.Unquote(q)
			r = strings.TrimPrefix(r[len(q):], " ")
		} else {
			val, r, _ = strings.Cut(r, " ")
		}
		rest = r
		parts := strings.Split(key, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = val
	}
	return m, nil
}
