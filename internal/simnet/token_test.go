package simnet_test

// testJoinToken is the join token of every vote network of these tests.
const testJoinToken = "simnet-join-token-0123456789"
