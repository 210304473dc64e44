// Package store keeps blocks, and the small records of the layers above
// (the consensus engine's log and state), and updates both in one atomic,
// durable Write. Store is the interface every node writes through.
//
// Three implementations:
//
//   - Memory keeps everything in memory; nothing survives the process. Tests
//     and nodes that need no durability use it.
//   - Bolt keeps everything in one go.etcd.io/bbolt file. A Write is one bolt
//     transaction, fsynced when it commits.
//   - Logged, what nodes use, is a Bolt file behind a write-ahead log. It is
//     an AsyncWriter: WriteAsync makes a batch readable at once and queues
//     it for a log writer goroutine, which merges what is queued into one
//     fdatasynced log record (group commit) and then calls each batch's
//     done; Write waits for that. Checkpoints copy many records into the
//     bolt file at once, beside the writers (see Logged).
//
// Faulty wraps any of them and makes writes fail on demand (an error, a failed
// fsync, a full disk) so that the layers above can test what they do then.
//
// # On disk
//
// A Bolt file holds three top-level buckets:
//
//	meta    magic = "naivechain-store/1" (the layout and its version;
//	        "/2" once Logged has written a log record),
//	        wal_seq = the last log record applied (Logged)
//	blocks  8-byte big-endian index -> encoded block
//	kv      one nested bucket per caller bucket name -> the caller's records
//
// A classic block is encoded as
//
//	0x01 | uvarint len(previous_hash) | previous_hash
//	     | uvarint len(data) | data | uvarint len(curr_hash) | curr_hash
//
// and a proof-of-work block (block.Block.IsPoW) as
//
//	0x02 | the same three fields | timestamp (8 bytes big-endian)
//	     | difficulty (1 byte) | nonce (8 bytes big-endian)
//
// (its index is the key). OpenBolt opens an existing file read-only first and
// refuses, without writing to it, any file that is not a bolt file with that
// magic, and an empty file or one shorter than its meta page's pages. It then checks the last blocks and rolls a corrupt or unlinked tail
// back to the last good block, with a warning.
//
// Every block read from the bolt file is checked against its hash, and a
// Blocks iteration checks each block's link to the one before it; a
// failure, or a panic of bbolt on a damaged page, is an ErrCorrupt error,
// after which the store refuses writes (see Damage). Check verifies a
// whole store offline, read-only.
//
// A store never talks to the network. It does not validate the rules of the
// chain, with two exceptions: Bolt's check of the tail on open, which assumes
// the stored chain starts at block.Genesis() and links (package chain only
// stores such chains), and the hash and link checks of blocks read.
package store
