package block

import (
	"strings"
	"testing"
)

func TestCheckJSONText(t *testing.T) {
	tests := []struct {
		text   string
		errHas string // "" when the text passes
	}{
		{`"plain"`, ""},
		{`"é \u00e9 \ud83d\ude00 \uD83D\uDE00"`, ""},
		{`"\\ud800"`, ""},          // an escaped backslash, then text
		{`"\\\ud800"`, "unpaired"}, // an escaped backslash, then an escape
		{`"\ud800"`, "unpaired"},
		{`"\ud800\ud800"`, "unpaired"},
		{`"\ud800\u0041"`, "unpaired"},
		{`"\ud800x\udc00"`, "unpaired"},
		{`"\udc00"`, "unpaired"},
		{`"\ud800`, "unpaired"},
		{`\`, ""},        // bad JSON: the decoder's to refuse
		{`"\u12"`, ""},   // bad JSON
		{`"\uzzzz"`, ""}, // bad JSON
		{"\"\xff\"", "UTF-8"},
		{"\"\xed\xa0\x80\"", "UTF-8"}, // a surrogate in UTF-8
	}
	for _, tt := range tests {
		err := CheckJSONText([]byte(tt.text))
		if tt.errHas == "" && err != nil || tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
			t.Errorf("CheckJSONText(%q) = %v, want an error with %q", tt.text, err, tt.errHas)
		}
	}
}
