// Package robustness checks naivechain's promises under faults, after
// etcd's tests/robustness: real naivechain processes form 3- and 5-node
// vote networks, clients write and read concurrently and record every call
// (its start, end and answer), faults are injected on a schedule drawn
// from a seed (kill -9 and restart, SIGSTOP/SIGCONT, partitions between
// network namespaces, a full disk, slow flushes), and the recorded history
// is then checked: it is linearizable for an append-only log (porcupine),
// every acknowledged write is on the final chain exactly once, every node
// holds the same chain and is healthy.
//
// The non-test files hold what a check needs and nothing that runs a
// process: the log model and the history it checks. The suite itself
// (processes, namespaces, mounts, traffic, faults) is in the test files;
// README's test section says how to run it and its switches.
package robustness
