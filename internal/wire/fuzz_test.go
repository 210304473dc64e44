package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

func marshalJSON(v any) ([]byte, error) { return json.Marshal(v) }

// FuzzDecode checks that Decode never panics and that whatever it accepts
// encodes again to a message that decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, m := range validMessages() {
		b, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte{byte(TypeReject), '{', '}', ' '})
	f.Add([]byte{byte(TypePeers), 'n', 'u', 'l', 'l'})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned both %+v and %v", m, err)
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("Decode accepted %q as %+v, but Encode refuses it: %v", b, m, err)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoding %q of %+v does not decode: %v", enc, m, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the message: %+v then %+v", m, m2)
		}
	})
}
