package vote

// testJoinToken is the join token of every network of these tests.
const testJoinToken = "vote-test-join-token-0123456789"
