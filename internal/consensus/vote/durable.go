package vote

// durability is the store writes the engine issued that are not yet
// durable, oldest first, with what each holds back until it is.
type durability struct {
	inflight int
	// gen counts raft incarnations (renew): answers of a write issued by
	// an older one are not stepped into the new one.
	gen     uint64
	durable chan *readyDone
}
