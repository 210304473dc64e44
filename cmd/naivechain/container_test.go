package main

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// TestContainerCommandsParse holds the Dockerfile's CMD and every command
// of docker-compose.yml to the node's flags, which no test here can run in
// a container: each must parse, bind every interface, keep its data in the
// image's volume, and the joiners must join node1.
func TestContainerCommandsParse(t *testing.T) {
	read := func(name string, re *regexp.Regexp) [][]string {
		t.Helper()
		b, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Fatal(err)
		}
		var cmds [][]string
		for _, m := range re.FindAllSubmatch(b, -1) {
			var args []string
			if err := json.Unmarshal(m[1], &args); err != nil {
				t.Fatalf("%s: %s is not one JSON array: %v", name, m[1], err)
			}
			cmds = append(cmds, args)
		}
		return cmds
	}
	docker := read("Dockerfile", regexp.MustCompile(`(?m)^CMD (\[.*\])$`))
	compose := read("docker-compose.yml", regexp.MustCompile(`(?m)^\s+command: (\[.*\])$`))
	if len(docker) != 1 || len(compose) != 3 {
		t.Fatalf("found %d CMD lines and %d compose commands, want 1 and 3 (one line each)", len(docker), len(compose))
	}
	for i, args := range append(docker, compose...) {
		nf, err := parseNodeFlags(args)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if nf.host != "0.0.0.0" || nf.httpHost != "0.0.0.0" || nf.dataDir != "/data" || nf.port != 15001 {
			t.Errorf("%q: host %q, http host %q, data dir %q, port %d", args, nf.host, nf.httpHost, nf.dataDir, nf.port)
		}
		switch i {
		case 0, 1: // the image's default, node1: founders
			if nf.peerPort != 0 {
				t.Errorf("%q joins a peer; want a founder", args)
			}
		default:
			if nf.peerHost != "node1" || nf.peerPort != 15001 {
				t.Errorf("%q: joins %s:%d, want node1:15001", args, nf.peerHost, nf.peerPort)
			}
		}
		if i > 0 && nf.advertise == "" {
			t.Errorf("%q advertises no name other containers can reach", args)
		}
	}
}
