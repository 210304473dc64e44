package block

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// TestAppendPyJSONDecodesAsEncodingJSON: the Python-spaced form of
// any block, whatever bytes its strings hold, is valid JSON in ASCII only
// and decodes to the value encoding/json's form decodes to.
func TestAppendPyJSONDecodesAsEncodingJSON(t *testing.T) {
	str := rapid.OneOf(
		rapid.String(),
		rapid.StringOf(rapid.SampledFrom([]rune{'"', '\\', '\b', '\f', '\n', '\r', '\t', 0, 0x1f, 0x7f, 0x80, '<', '&', '\u2028', '\u2029', 'é', '\ufffd', '😀', 0x10ffff, 0xfffe})),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }),
		rapid.Map(rapid.SliceOf(rapid.SampledFrom([]byte{0xed, 0xa0, 0x80, 0xbd, 0xb2, 0xf4, 0x90, 0xc0, 0xff, '"', '\\', 'u'})), func(b []byte) string { return string(b) }),
	)
	rapid.Check(t, func(t *rapid.T) {
		b := drawBlock(t, str)
		py := b.AppendPyJSON(nil)
		for _, c := range py {
			if c < 0x20 || c >= 0x7f {
				t.Fatalf("byte %#x in %q", c, py)
			}
		}
		want, got := map[string]any{}, map[string]any{}
		dec := func(in []byte, v *map[string]any) {
			d := json.NewDecoder(bytes.NewReader(in))
			d.UseNumber() // huge uint64s compared exactly
			if err := d.Decode(v); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
		}
		dec(encodingJSON(t, b), &want)
		dec(py, &got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("AppendPyJSON decodes to %#v\nencoding/json's to %#v", got, want)
		}
		if s := PyString(b.Data); s != string(AppendPyString(nil, b.Data)) {
			t.Fatalf("PyString %s != AppendPyString", s)
		}
	})
}
