package pow

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
)

// Payload kinds: the first byte of every pow payload; a JSON body follows.
// ONLY APPEND TO THIS LIST.
const (
	kindStatus    byte = 1 // statusMsg: my best tip
	kindGetBlocks byte = 2 // getBlocksMsg: send me blocks after my locator
	kindBlocks    byte = 3 // blocksMsg: blocks, oldest first
	kindEntries   byte = 4 // entriesMsg: pending entries, in groups
)

// Bounds of what a message may carry.
const (
	// maxBlocksPerMsg and maxBlocksBytes bound a blocks message.
	maxBlocksPerMsg = 500
	maxBlocksBytes  = 2 << 20
	// maxGroupsPerMsg and maxEntriesBytes bound an entries message.
	maxGroupsPerMsg = 1000
	maxEntriesBytes = 2 << 20
	// maxWorkHex bounds the hex digits of a cumulative work.
	maxWorkHex = 128
)

type statusMsg struct {
	Height uint64 `json:"height"`
	Hash   string `json:"hash"`
	Work   string `json:"work"` // cumulative work, lower-case hex
}

type getBlocksMsg struct {
	Locator []chain.LocatorEntry `json:"locator"`
}

type blocksMsg struct {
	Blocks []block.Block `json:"blocks"`
	More   bool          `json:"more,omitempty"` // the sender has blocks after these
}

type entriesMsg struct {
	Groups [][]string `json:"groups"`
}

func encode(kind byte, body any) []byte {
	b, err := json.Marshal(body)
	if err != nil {
		// Only our own plain structs are encoded here.
		panic(fmt.Sprintf("pow: encode kind %d: %v", kind, err))
	}
	return append([]byte{kind}, b...)
}

// encodeStatus announces a best tip of height, hash and cumulative work.
func encodeStatus(height uint64, hash string, work *big.Int) []byte {
	return encode(kindStatus, statusMsg{Height: height, Hash: hash, Work: work.Text(16)})
}

// encodeGetBlocks asks for the blocks after the locator's fork point.
func encodeGetBlocks(loc []chain.LocatorEntry) []byte {
	return encode(kindGetBlocks, getBlocksMsg{Locator: loc})
}

// encodeBlocks carries blocks, oldest first; more says the sender has
// blocks after them.
func encodeBlocks(blocks []block.Block, more bool) []byte {
	return encode(kindBlocks, blocksMsg{Blocks: blocks, More: more})
}

// encodeEntries carries pending entries in groups.
func encodeEntries(groups [][]string) []byte {
	return encode(kindEntries, entriesMsg{Groups: groups})
}

// decoded is one decoded payload: exactly one field is set.
type decoded struct {
	status    *statusMsg
	work      *big.Int // status's work, parsed
	getBlocks *getBlocksMsg
	blocks    *blocksMsg
	entries   *entriesMsg
}

// decode parses a payload and checks its bounds and shape. Rules that need
// the chain (links, work, entries already seen) are the engine's.
func decode(p []byte) (decoded, error) {
	var d decoded
	if len(p) == 0 {
		return d, fmt.Errorf("%w: empty pow payload", consensus.ErrMalformed)
	}
	bad := func(format string, args ...any) (decoded, error) {
		return decoded{}, fmt.Errorf("%w: pow kind %d: %s", consensus.ErrMalformed, p[0], fmt.Sprintf(format, args...))
	}
	body := p[1:]
	switch p[0] {
	case kindStatus:
		var m statusMsg
		if err := json.Unmarshal(body, &m); err != nil {
			return bad("%v", err)
		}
		if len(m.Work) == 0 || len(m.Work) > maxWorkHex {
			return bad("work of %d hex digits", len(m.Work))
		}
		w, ok := new(big.Int).SetString(m.Work, 16)
		if !ok || w.Sign() < 0 || w.Text(16) != m.Work {
			return bad("work %.20q is not canonical hex", m.Work)
		}
		d.status, d.work = &m, w
	case kindGetBlocks:
		var m getBlocksMsg
		if err := json.Unmarshal(body, &m); err != nil {
			return bad("%v", err)
		}
		if len(m.Locator) == 0 || len(m.Locator) > chain.MaxLocatorEntries {
			return bad("locator of %d entries", len(m.Locator))
		}
		for i := 1; i < len(m.Locator); i++ {
			if m.Locator[i].Index >= m.Locator[i-1].Index {
				return bad("locator indexes not decreasing")
			}
		}
		d.getBlocks = &m
	case kindBlocks:
		var m blocksMsg
		if err := json.Unmarshal(body, &m); err != nil {
			return bad("%v", err)
		}
		if len(m.Blocks) == 0 || len(m.Blocks) > maxBlocksPerMsg {
			return bad("%d blocks", len(m.Blocks))
		}
		for i, b := range m.Blocks {
			if !b.IsPoW() {
				return bad("block %d is not a proof-of-work block", b.Index)
			}
			if i > 0 && b.Index != m.Blocks[i-1].Index+1 {
				return bad("block %d follows block %d", b.Index, m.Blocks[i-1].Index)
			}
		}
		d.blocks = &m
	case kindEntries:
		var m entriesMsg
		if err := json.Unmarshal(body, &m); err != nil {
			return bad("%v", err)
		}
		if len(m.Groups) == 0 || len(m.Groups) > maxGroupsPerMsg {
			return bad("%d groups", len(m.Groups))
		}
		for _, g := range m.Groups {
			if len(g) == 0 || len(g) > block.MaxEntries {
				return bad("group of %d entries", len(g))
			}
			for _, e := range g {
				if err := block.CheckEntry(e); err != nil {
					return bad("%v", err)
				}
			}
		}
		d.entries = &m
	default:
		return bad("unknown kind")
	}
	return d, nil
}
