package api

import (
	"encoding/json"
	"testing"
)

// pySpaced is s, compact JSON, as Python's json.dumps writes it.
func pySpaced(s string) string { return string(appendPyJSON(nil, []byte(s))) }

// TestAppendPyJSON: compact JSON comes out as Python's json.dumps writes
// the same value (bytes taken from Python 3's json.dumps).
func TestAppendPyJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"status":"OK","data":true}`, `{"status": "OK", "data": true}`},
		{`{"a":[1,2,{"b":null}],"c":{}}`, `{"a": [1, 2, {"b": null}], "c": {}}`},
		{`["x,y:z","q\"a,b\\",""]`, `["x,y:z", "q\"a,b\\", ""]`},
		{`"café 😀 ` + "\x7f" + `"`, `"caf\u00e9 \ud83d\ude00 \u007f"`},
		{`"\u2028\n\u001f"`, `"\u2028\n\u001f"`},
		{"{\"k\":1}\n", "{\"k\": 1}\n"},
	} {
		if got := pySpaced(c.in); got != c.want {
			t.Errorf("appendPyJSON(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// FuzzAppendPyJSON: whatever encoding/json writes, the re-spaced form is
// valid JSON of the same value, in ASCII only.
func FuzzAppendPyJSON(f *testing.F) {
	f.Add(`{"status":"OK","data":["a,b", "é😀\u2028", 1.5, null]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var v any
		if json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		compact, err := json.Marshal(v)
		if err != nil {
			t.Skip()
		}
		out := appendPyJSON(nil, compact)
		for _, c := range out {
			if c >= 0x7f {
				t.Fatalf("non-ASCII byte in %q", out)
			}
		}
		var back any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(compact) {
			t.Fatalf("value changed: %s -> %s", compact, again)
		}
	})
}
