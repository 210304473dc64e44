package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// hiddenUsage starts the usage of a flag left out of --help: flags for
// tests, documented in README's test section, not for operators.
const hiddenUsage = "(hidden) "

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n\nFlags (one or two dashes):\n", name)
		shown := flag.NewFlagSet(name, flag.ContinueOnError)
		shown.SetOutput(stderr)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.HasPrefix(f.Usage, hiddenUsage) {
				shown.Var(f.Value, f.Name, f.Usage)
			}
		})
		shown.PrintDefaults()
	}
	return fs
}
