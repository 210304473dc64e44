package api

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// readmeAnswers returns, for each curl command in README.md (its first
// line), the answers the README shows below it: a "# " line starts an
// answer and a "#  " line continues a wrapped one after ", ".
func readmeAnswers(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make(map[string][]string)
	var cmd string
	continued := false // the command's last line ended in a backslash
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "curl "):
			cmd, continued = line, strings.HasSuffix(line, `\`)
		case cmd != "" && continued:
			continued = strings.HasSuffix(line, `\`)
		case cmd != "" && strings.HasPrefix(line, "#  ") && len(out[cmd]) > 0:
			out[cmd][len(out[cmd])-1] += " " + strings.TrimPrefix(line, "#  ")
		case cmd != "" && strings.HasPrefix(line, "# "):
			out[cmd] = append(out[cmd], strings.TrimPrefix(line, "# "))
		default:
			cmd = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadmeAnswersAreReal: the answers README.md shows for the original's
// write and read, and for the health, readiness and entry errors, are
// byte for byte what the API answers (with the status code shown when it
// is not 200).
func TestReadmeAnswersAreReal(t *testing.T) {
	shown := readmeAnswers(t)
	f := newFake()
	h := NewHandler(f, Options{})
	check := func(cmd string, i int, method, target, body string) {
		t.Helper()
		rec := do(t, h, method, target, body)
		got := strings.TrimSuffix(rec.Body.String(), "\n")
		if rec.Code != 200 {
			got = strconv.Itoa(rec.Code) + " " + got
		}
		if len(shown[cmd]) <= i {
			t.Fatalf("README shows no answer %d under %q", i, cmd)
		}
		if shown[cmd][i] != got {
			t.Errorf("README under %q shows\n%s\nthe API answers\n%s", cmd, shown[cmd][i], got)
		}
	}
	check(`curl -X POST http://127.0.0.1:15002/data \`, 0, "POST", "/data", `{"data": "Testing String Again"}`)
	check("curl http://127.0.0.1:15002/data", 0, "GET", "/data", "")
	check("curl http://127.0.0.1:15002/health", 0, "GET", "/health", "")
	check("curl http://127.0.0.1:15002/ready", 0, "GET", "/ready", "")
	f.notReady = errors.New("no leader; no quorum: 1 of 3 voters reachable, 2 needed")
	check("curl http://127.0.0.1:15006/ready      # after the two other members stopped", 0, "GET", "/ready", "")
	f.entry = func(context.Context, string) (EntryState, error) { return EntryState{}, ErrBadEntryID }
	check("curl http://127.0.0.1:15002/entries/xyz", 0, "GET", "/entries/xyz", "")
}
