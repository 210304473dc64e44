package wire

import (
	"fmt"
	"testing"
)

// benchMessages are the messages the codec benchmarks encode and decode: a
// Consensus message with a 1 KiB payload, and a Peers message with 16 peers
// as a node gossips them (UUID-length ids, IPv4 hosts, both ports).
func benchMessages() []struct {
	name string
	msg  Message
} {
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte(i)
	}
	peers := make([]PeerInfo, 16)
	for i := range peers {
		peers[i] = PeerInfo{
			ID:       fmt.Sprintf("3f1e0c52-7a4b-4d7e-9c1a-2b6f8e9d%04x", i),
			Host:     fmt.Sprintf("10.0.0.%d", i+1),
			Port:     fmt.Sprint(15001 + 2*i),
			HTTPPort: fmt.Sprint(15002 + 2*i),
		}
	}
	return []struct {
		name string
		msg  Message
	}{
		{"Consensus/1KiB", &Consensus{Payload: payload}},
		{"Peers/16", &Peers{Peers: peers}},
	}
}

var sink any

func BenchmarkEncode(b *testing.B) {
	for _, c := range benchMessages() {
		b.Run(c.name, func(b *testing.B) {
			enc, err := Encode(c.msg)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if enc, err = Encode(c.msg); err != nil {
					b.Fatal(err)
				}
			}
			sink = enc
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchMessages() {
		b.Run(c.name, func(b *testing.B) {
			enc, err := Encode(c.msg)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			var m Message
			for b.Loop() {
				if m, err = Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
			sink = m
		})
	}
}
