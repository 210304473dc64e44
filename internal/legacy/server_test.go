package legacy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/block"
)

// costlyFrames are frames built to cost Decode the most per byte, and the
// frames a real upload or block message holds.
func costlyFrames() map[string]string {
	const size = 256 << 10
	chain := []block.Block{block.Genesis()}
	for i := 0; i < size/200; i++ {
		chain = append(chain, block.Next(chain[len(chain)-1], `"x"`))
	}
	var peers []Peer
	for i := 0; i < size/50; i++ {
		peers = append(peers, Peer{ID: fmt.Sprint(i), Host: "h", Port: "1"})
	}
	var keys strings.Builder
	keys.WriteString("{")
	for i := 0; keys.Len() < size; i++ {
		fmt.Fprintf(&keys, `"%d":0,`, i)
	}
	keys.WriteString(`"z":0}`)
	return map[string]string{
		"upload of small blocks": string(Encode(DataUpload{Blocks: chain})),
		"upload of many peers":   string(Encode(DataUpload{Peers: peers})),
		"upload of empty blocks": `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [], "data_list": [` + strings.Repeat("{},", size/3) + `{}]}`,
		"upload of blank blocks": `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [], "data_list": [` + strings.Repeat(`{"index":0,"previous_hash":"","data":"","curr_hash":""},`, size/56) + `{}]}`,
		"validate, escapes":      `{"CMD": "VALIDATE_BLOCK", "block_data": {"index": 1, "previous_hash": "a", "data": "` + strings.Repeat(`\"`, block.MaxDataLen/2) + `", "curr_hash": "b"}}`,
		"add block of numbers":   `{"CMD": "ADD_BLOCK", "data": [` + strings.Repeat("1,", size/2) + `1]}`,
		"add block, nested":      `{"CMD": "ADD_BLOCK", "data": ` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
		"other, many keys":       keys.String(),
		"other, one string":      `{"x": "` + strings.Repeat("a", size) + `"}`,
		"other, many objects":    `{"x": [` + strings.Repeat("{},", size/3) + `{}]}`,
	}
}

// TestDecodeCostBoundsAllocations checks that DecodeCost, which a Server
// charges before it decodes, is at least what Decode allocates, garbage
// included, for the costliest frames found.
func TestDecodeCostBoundsAllocations(t *testing.T) {
	for name, frame := range costlyFrames() {
		b := []byte(frame)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := Decode(b)
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(m)
		allocated := int64(after.TotalAlloc - before.TotalAlloc)
		cost := DecodeCost(b)
		t.Logf("%-24s %8d bytes, Decode allocated %5.1fx, charged %5.1fx (err %v)", name, len(b), float64(allocated)/float64(len(b)), float64(cost)/float64(len(b)), err)
		if allocated > cost {
			t.Errorf("%s: Decode allocated %d bytes, DecodeCost says %d", name, allocated, cost)
		}
	}
}

// TestLargestUploadFitsTheDefaultMemory: an upload of real blocks filling a
// whole frame, read and decoded, fits in the default memory bound, so the
// bound never refuses a legitimate upload alone.
func TestLargestUploadFitsTheDefaultMemory(t *testing.T) {
	// DecodeCost depends on the bytes only: one real block, repeated to
	// fill a frame, stands for a chain.
	one := string(Encode(DataUpload{Blocks: []block.Block{block.Next(block.Genesis(), `"x"`)}}))
	head, blk, _ := strings.Cut(one, `"data_list": [`)
	blk = strings.TrimSuffix(blk, "]}")
	n := (MaxFrame - len(head) - 20) / (len(blk) + 2)
	frame := head + `"data_list": [` + strings.Repeat(blk+", ", n-1) + blk + "]}"
	if len(frame) > MaxFrame {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	if held := int64(MaxFrame+1) + DecodeCost([]byte(frame)); held > DefaultMemory {
		t.Fatalf("an upload of %d blocks (%d bytes) holds %d bytes, more than DefaultMemory %d", n, len(frame), held, DefaultMemory)
	} else {
		t.Logf("an upload of %d blocks (%d bytes) holds %d bytes of %d", n, len(frame), held, DefaultMemory)
	}
}

// TestDecodeCostCountsValuesOutsideStrings: punctuation inside strings,
// escaped quotes included, is not counted.
func TestDecodeCostCountsValuesOutsideStrings(t *testing.T) {
	for frame, values := range map[string]int64{
		`{}`:                   2,
		`{"a": [1, 2]}`:        5,
		`{"a": "{[,:]}"}`:      3,
		`{"a": "\"{,", "b":1}`: 5,
	} {
		if got, want := DecodeCost([]byte(frame)), decodeBytesFactor*int64(len(frame))+decodeValueCost*values; got != want {
			t.Errorf("DecodeCost(%s) = %d, want %d (%d values)", frame, got, want, values)
		}
	}
}

// TestServerBoundsMemory: hostile connections all sending large frames at
// once, with the handler holding the ones it took, never make the server
// hold more than its memory bound; the frames that do not fit are refused,
// the others are taken, and everything is given back after.
func TestServerBoundsMemory(t *testing.T) {
	const conns = 20
	limits := Limits{MaxFrame: 256 << 10, Memory: 4 << 20, Conns: conns}
	hold := make(chan struct{})
	handled := make(chan struct{}, conns)
	s := NewServer(limits, func(string, Message) string {
		handled <- struct{}{}
		<-hold
		return ReplyACK
	})
	srv := httptest.NewServer(s)
	defer srv.Close()
	frame := []byte(`{"x": "` + strings.Repeat("a", 200<<10) + `"}`)
	// Each frame holds its buffer (256 KiB) and its DecodeCost (4 times
	// its length): 3 fit in 4 MiB.
	fit := int(limits.Memory / (int64(limits.MaxFrame) + DecodeCost(frame)))
	results := make(chan string, conns)
	for range conns {
		go func() { results <- exchangeRaw(srv.Listener.Addr().String(), frame) }()
	}
	// Every connection is either refused (its exchange ends) or handled
	// (and held there).
	refused, taken := 0, 0
	for refused+taken < conns {
		select {
		case r := <-results:
			if r == ReplyACK {
				t.Fatal("a frame was answered before the handler let it go")
			}
			refused++
		case <-handled:
			taken++
		}
	}
	if taken == 0 || taken > fit {
		t.Fatalf("%d frames taken, want 1 to %d", taken, fit)
	}
	st := s.Stats()
	if st.PeakMemory > limits.Memory || st.Memory > limits.Memory {
		t.Fatalf("held %d bytes, peak %d: more than the bound %d", st.Memory, st.PeakMemory, limits.Memory)
	}
	if st.RefusedMemory != uint64(refused) {
		t.Fatalf("%d frames counted refused, %d refused", st.RefusedMemory, refused)
	}
	close(hold)
	for range taken {
		if r := <-results; r != ReplyACK {
			t.Fatalf("a frame within the bound got %q", r)
		}
	}
	waitForCond(t, "the memory to be given back", func() bool { return s.Stats().Memory == 0 && s.Stats().Conns == 0 })
	t.Logf("%d connections of %d-byte frames: %d taken, %d refused, peak %d bytes of %d", conns, len(frame), taken, refused, st.PeakMemory, limits.Memory)
}

// TestServerRefusesFramesOverMaxFrame: a frame past MaxFrame ends the
// connection without a reply, and nothing is handled.
func TestServerRefusesFramesOverMaxFrame(t *testing.T) {
	called := make(chan struct{}, 1)
	s := NewServer(Limits{MaxFrame: 64 << 10}, func(string, Message) string { called <- struct{}{}; return ReplyACK })
	srv := httptest.NewServer(s)
	defer srv.Close()
	frame := []byte(`{"x": "` + strings.Repeat("a", 64<<10) + `"}`)
	if r := exchangeRaw(srv.Listener.Addr().String(), frame); r == ReplyACK {
		t.Fatal("a frame over MaxFrame was answered ACK")
	}
	waitForCond(t, "the memory to be given back", func() bool { return s.Stats().Memory == 0 && s.Stats().Conns == 0 })
	select {
	case <-called:
		t.Fatal("a frame over MaxFrame was handled")
	default:
	}
	if r := exchangeRaw(srv.Listener.Addr().String(), []byte(`{"CMD": "PING"}`)); r != ReplyACK {
		t.Fatalf("a small frame after it got %q", r)
	}
}

// TestServerCapsConnections: past Limits.Conns connections at once, one more
// is answered 503 before any WebSocket.
func TestServerCapsConnections(t *testing.T) {
	s := NewServer(Limits{Conns: 2}, func(string, Message) string { return ReplyACK })
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for range 2 {
		ws, _, err := websocket.Dial(ctx, "ws://"+srv.Listener.Addr().String()+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
	}
	waitForCond(t, "2 connections served", func() bool { return s.Stats().Conns == 2 })
	_, resp, err := websocket.Dial(ctx, "ws://"+srv.Listener.Addr().String()+"/", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third connection: %v, %v", resp, err)
	}
	if st := s.Stats(); st.Busy != 1 || st.PeakConns != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// exchangeRaw sends frame as one text frame and returns the reply, or the
// error's text when there is none.
func exchangeRaw(addr string, frame []byte) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/", nil)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return "write: " + err.Error()
	}
	_, reply, err := ws.Read(ctx)
	if err != nil {
		return "read: " + err.Error()
	}
	return string(reply)
}

func waitForCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
