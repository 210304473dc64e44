package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// newRootCmd returns the naivechain command: a node, as the original's
// command line, with the other commands below it.
func newRootCmd(a *app) *cobra.Command {
	root := newNodeCmd(a, "naivechain", "")
	root.Long = `naivechain runs a node of a naivechain network, a blockchain compatible with PyNaive Chain:
without a command, a node with the flags below (the original's -p, -pid, -pport included).`
	root.Version = versionText()
	root.SetVersionTemplate("{{.Version}}")
	root.SilenceErrors, root.SilenceUsage = true, true
	root.SuggestionsMinimumDistance = 2
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v", errUsage, err)
	})
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { writeHelp(c.OutOrStdout(), c) })
	root.SetUsageFunc(func(c *cobra.Command) error {
		writeHelp(c.OutOrStderr(), c)
		return nil
	})
	root.SetHelpCommand(newHelpCmd(root))
	root.AddCommand(
		newNodeCmd(a, "node", "Run a node (the same as naivechain without a command)"),
		newDevnetCmd(a), newBenchCmd(a), newFillCmd(a), newCheckCmd(a), newVersionCmd(a),
	)
	// Ours, not cobra's, for their descriptions; added last, they come
	// last in --help.
	for _, c := range root.Commands() {
		c.Flags().BoolP("help", "h", false, "show this help")
	}
	root.Flags().BoolP("help", "h", false, "show this help")
	root.Flags().BoolP("version", "v", false, "print the version, the commit and the Go version")
	return root
}

// newHelpCmd returns `naivechain help [command]`, which, unlike cobra's,
// refuses an unknown command (exit 2).
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Show the help of naivechain or of a command",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return fmt.Errorf("%w: unknown command %q", errUsage, args[len(args)-1])
			}
			return cmd.Help()
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			for _, s := range root.Commands() {
				if s.IsAvailableCommand() {
					names = append(names, s.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the Go version",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(a.stdout, versionText())
			return err
		},
	}
}

// versionText is what `naivechain version` prints: the module version
// (a tag with go install, "(devel)" in a checkout), the commit the binary
// was built from ("-dirty" when the tree had changes) and the Go version.
func versionText() string {
	version, commit, goVersion := "(devel)", "unknown", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		goVersion = bi.GoVersion
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit != "unknown" {
			commit += "-dirty"
		}
	}
	return fmt.Sprintf("naivechain %s\ncommit: %s\ngo: %s %s/%s\n", version, commit, goVersion, runtime.GOOS, runtime.GOARCH)
}
