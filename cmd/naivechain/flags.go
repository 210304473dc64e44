package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// aliasesKey is the pflag annotation holding a flag's other long names,
// for --help.
const aliasesKey = "naivechain-aliases"

// flagSet registers a command's flags: each under one long name, maybe a
// one-letter shorthand (-p) and longer aliases (the original's -pid is
// also --peer_id), listed once in --help.
type flagSet struct {
	*pflag.FlagSet
	aliases map[string]string // alias -> long name
}

// newFlagSet returns the flag set of cmd, keeping the declaration order
// in --help.
func newFlagSet(cmd *cobra.Command) flagSet {
	f := flagSet{FlagSet: cmd.Flags(), aliases: map[string]string{}}
	f.SortFlags = false
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if n, ok := f.aliases[name]; ok {
			return pflag.NormalizedName(n)
		}
		return pflag.NormalizedName(name)
	})
	return f
}

// splitNames sorts names into the long name (the first of more than one
// letter), a shorthand (one letter) and aliases (the other long ones).
func splitNames(names []string) (name, short string, aliases []string) {
	for _, n := range names {
		switch {
		case len(n) == 1:
			short = n
		case name == "":
			name = n
		default:
			aliases = append(aliases, n)
		}
	}
	return name, short, aliases
}

func (f flagSet) alias(name string, aliases []string) {
	if len(aliases) == 0 {
		return
	}
	for _, a := range aliases {
		f.aliases[a] = name
	}
	_ = f.SetAnnotation(name, aliasesKey, aliases)
}

func (f flagSet) stringVar(p *string, names []string, def, usage string) {
	name, short, aliases := splitNames(names)
	f.StringVarP(p, name, short, def, usage)
	f.alias(name, aliases)
}

func (f flagSet) intVar(p *int, names []string, def int, usage string) {
	name, short, aliases := splitNames(names)
	f.IntVarP(p, name, short, def, usage)
	f.alias(name, aliases)
}

func (f flagSet) boolVar(p *bool, names []string, def bool, usage string) {
	name, short, aliases := splitNames(names)
	f.BoolVarP(p, name, short, def, usage)
	f.alias(name, aliases)
}

func (f flagSet) durationVar(p *time.Duration, names []string, def time.Duration, usage string) {
	name, short, aliases := splitNames(names)
	f.DurationVarP(p, name, short, def, usage)
	f.alias(name, aliases)
}

// hidden leaves a flag out of --help: flags for tests, documented in
// README's test section, not for operators.
func (f flagSet) hidden(name string) { _ = f.MarkHidden(name) }

// normalizeArgs rewrites args for pflag, which takes one dash only before
// a one-letter shorthand: a single-dash word naming a long flag of the
// command args run (the original's -pid, -pport; -data-dir) gets a second
// dash, and a double-dash shorthand (--p) loses one. Values of flags, even those starting with '-', and everything
// after "--" are left as they are.
func normalizeArgs(root *cobra.Command, args []string) []string {
	out := append([]string(nil), args...)
	cmd, rest := root, out
	if len(out) > 0 {
		for _, c := range root.Commands() {
			if c.Name() == out[0] || c.HasAlias(out[0]) {
				cmd, rest = c, out[1:]
			}
		}
	}
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	fs := cmd.Flags()
	for i := 0; i < len(rest); i++ {
		s := rest[i]
		if s == "--" {
			break
		}
		if len(s) < 2 || s[0] != '-' {
			continue
		}
		body, _, hasValue := strings.Cut(strings.TrimLeft(s, "-"), "=")
		var f *pflag.Flag
		switch {
		case strings.HasPrefix(s, "--") && len(body) == 1 && fs.Lookup(body) == nil && fs.ShorthandLookup(body) != nil:
			f, rest[i] = fs.ShorthandLookup(body), s[1:] // --p worked with Go's flag package
		case strings.HasPrefix(s, "--"):
			f = fs.Lookup(body)
		case len(body) > 1 && fs.Lookup(body) != nil:
			f, rest[i] = fs.Lookup(body), "-"+s
		case len(body) > 1:
			// A shorthand with its value attached (-p15001) or several
			// bool shorthands: pflag's own business.
			continue
		default:
			f = fs.ShorthandLookup(body)
		}
		if f != nil && !hasValue && f.NoOptDefVal == "" {
			i++ // the next word is the value
		}
	}
	return out
}

// helpLine is the command that tells more about cmd.
func helpLine(cmd *cobra.Command) string {
	if cmd == nil || !cmd.HasParent() {
		return "naivechain help"
	}
	return "naivechain help " + strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// noArgs refuses positional arguments: none of naivechain's commands takes
// any. On the root command an argument is an unknown command.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !c.HasParent() {
		msg := fmt.Sprintf("unknown command %q", args[0])
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", s[0])
		}
		return fmt.Errorf("%w: %s", errUsage, msg)
	}
	return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
}

// helpWidth is the width --help wraps its flag descriptions to.
const helpWidth = 100

// writeHelp writes cmd's help: what it does, how to call it, its
// commands and its flags, each flag once with all its names.
func writeHelp(w io.Writer, c *cobra.Command) {
	var b strings.Builder
	if c.Long != "" {
		b.WriteString(strings.TrimSpace(c.Long) + "\n\n")
	} else if c.Short != "" {
		b.WriteString(c.Short + ".\n\n")
	}
	b.WriteString("Usage:\n  " + c.UseLine() + "\n")
	if c.HasAvailableSubCommands() {
		b.WriteString("  " + c.CommandPath() + " <command> [flags]\n\nCommands:\n")
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() || s.Name() == "help" {
				fmt.Fprintf(&b, "  %-11s %s\n", s.Name(), s.Short)
			}
		}
	}
	if c.HasAvailableFlags() {
		b.WriteString("\nFlags (one dash or two):\n" + flagTable(c.Flags()))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\nRun '%s help <command>' for more about a command.\n", c.CommandPath())
	}
	_, _ = io.WriteString(w, b.String())
}

// flagTable lists the visible flags of fs, one row each: every name,
// the value's type, the description and the default (unless the
// description says it).
func flagTable(fs *pflag.FlagSet) string {
	type row struct{ names, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		names := "    "
		if f.Shorthand != "" {
			names = "-" + f.Shorthand + ", "
		}
		names += "--" + f.Name
		for _, a := range f.Annotations[aliasesKey] {
			names += ", --" + a
		}
		varname, usage := pflag.UnquoteUsage(f)
		if varname != "" {
			names += " " + varname
		}
		if d := shownDefault(f, usage); d != "" {
			usage += " (default " + d + ")"
		}
		rows = append(rows, row{names, usage})
		width = max(width, len(names))
	})
	var b strings.Builder
	for _, r := range rows {
		indent := 2 + width + 3
		fmt.Fprintf(&b, "  %-*s   %s\n", width, r.names, wrap(r.usage, max(helpWidth-indent, 30), strings.Repeat(" ", indent)))
	}
	return b.String()
}

// shownDefault is the default --help shows for f: none when it is the
// type's zero value or the description already says it.
func shownDefault(f *pflag.Flag, usage string) string {
	if strings.Contains(usage, "(default") {
		return ""
	}
	switch f.DefValue {
	case "", "0", "false", "0s":
		return ""
	}
	if f.Value.Type() == "string" {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// wrap breaks s into lines of at most width characters, indenting every
// line after the first.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		if i > 0 && n+1+len(word) > width {
			b.WriteString("\n" + indent)
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
