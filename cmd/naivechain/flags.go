package main

import (
	"flag"
	"fmt"
	"io"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n\nFlags (one or two dashes):\n", name)
		fs.PrintDefaults()
	}
	return fs
}
