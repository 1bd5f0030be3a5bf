// Command urun runs OCI containers as an ordinary user.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/hostcheck"
	"github.com/urun-dev/urun/store"
)

// command is one urun subcommand. Each lives in its own file.
type command struct {
	name  string
	short string // one line for `urun --help`
	usage string // the synopsis after "urun "
	// flags is the subcommand's flag set; interspersed off where
	// arguments after the first positional belong to the container.
	flags *pflag.FlagSet
	run   func(g *globals, args []string) error
}

// globals are the flags that come before the subcommand.
type globals struct {
	debug bool
	// The runc-compatible globals that podman, conmon and containerd send.
	root          string
	log           string
	logFormat     string
	systemdCgroup bool
	rootless      string
	// oci: this call gets the OCI runtime face (runc's semantics), by
	// the rule in ociFace.
	oci bool
}

var commands = map[string]func() *command{}

func register(name string, f func() *command) { commands[name] = f }

func main() {
	engine.EngineName = "urun-" + version
	// The unpack helper re-executes urun inside a user namespace.
	if len(os.Args) > 1 && os.Args[1] == store.UnpackCommand {
		os.Exit(store.UnpackMain())
	}
	// A detached container's supervisor (engine/supervisor.go).
	if len(os.Args) > 1 && os.Args[1] == engine.SupervisorArg {
		os.Exit(engine.SuperviseMain(os.Args[2:]))
	}
	// The detached remover of a --rm container's writable layer
	// (engine/trash.go).
	if len(os.Args) > 1 && os.Args[1] == engine.TrashArg {
		os.Exit(engine.TrashMain(os.Args[2:]))
	}
	// urun doctor's probes re-execute urun inside their namespaces.
	if len(os.Args) > 1 && os.Args[1] == hostcheck.ProbeCommand {
		os.Exit(hostcheck.ChildMain())
	}
	code := urunMain(os.Args[1:], os.Stdout, os.Stderr)
	engine.FinishSweep() // the trash the sweep is removing (engine/sweep.go)
	os.Exit(code)
}

func urunMain(args []string, stdout, stderr io.Writer) int {
	var g globals
	fs, dataDirFlag, help, version := globalFlags(&g)
	if err := fs.Parse(args); err != nil {
		return fail(stderr, usageError(err, "urun --help"))
	}
	if *dataDirFlag != "" {
		d, err := filepath.Abs(*dataDirFlag)
		if err != nil {
			return fail(stderr, fmt.Errorf("--data-dir: %w", err))
		}
		// The environment carries it to urun-image, the unpack helper
		// and detached containers' supervisors.
		os.Setenv(engine.DataDirEnv, d)
	}
	if g.logFormat != "text" && g.logFormat != "json" {
		return fail(stderr, fmt.Errorf("--log-format %q: use text or json", g.logFormat))
	}
	g.oci = ociFace(os.Args[0], fs.Changed("root"))
	rest := fs.Args()
	switch {
	case *version:
		rest = []string{"version"}
	case *help || len(rest) == 0:
		printHelp(stdout, fs)
		if len(rest) == 0 && !*help {
			return container.ExitRuntime
		}
		return 0
	}
	rest = dockerForms(rest)
	if rest[0] == "help" {
		// `urun help CMD` is `urun CMD --help`, as docker's.
		if len(rest) == 1 {
			printHelp(stdout, fs)
			return 0
		}
		rest = []string{rest[1], "--help"}
	}
	newCmd, ok := commands[rest[0]]
	if !ok {
		return fail(stderr, fmt.Errorf("unknown command %q%s (see 'urun --help' for the list)", rest[0], didYouMean(rest[0], commandNames())))
	}
	cmd := newCmd()
	cmd.flags.SetOutput(io.Discard)
	// -h is --hostname for run and create, as docker's and podman's.
	var cmdHelp *bool
	if cmd.flags.ShorthandLookup("h") == nil {
		cmdHelp = cmd.flags.BoolP("help", "h", false, "show this help")
	} else {
		cmdHelp = cmd.flags.Bool("help", false, "show this help")
	}
	if err := cmd.flags.Parse(rest[1:]); err != nil {
		err = usageError(flagSuggestion(err, cmd.flags), "urun "+cmd.name+" --help")
		g.logError(err)
		return fail(stderr, err)
	}
	if *cmdHelp {
		printCommandHelp(stdout, cmd)
		return 0
	}
	err := cmd.run(&g, cmd.flags.Args())
	if st, ok := containerStatus(err); ok {
		return st
	}
	if err != nil {
		g.logError(err)
		code := fail(stderr, err)
		if g.oci {
			// runc's statuses, which its clients and tests check: 255
			// when exec fails (a missing program too), 1 for any
			// other failure.
			code = 1
			if cmd.name == "exec" {
				code = 255
			}
		}
		return code
	}
	return 0
}

// exitStatus is the container's own status, passed through silently.
func exitStatus(code int) error { return container.ExitStatus(code) }

// containerStatus is the status err passes through silently, if it is one.
func containerStatus(err error) (int, bool) {
	var ce *container.CodedError
	if errors.As(err, &ce) && ce.Err == nil {
		return ce.Code, true
	}
	return 0, false
}

var errNoSuchContainer = container.ErrNotExist

// fail prints err as one line and returns its exit status: the one the
// error carries (126, 127 from the container init) or 125.
func fail(w io.Writer, err error) int {
	fmt.Fprintf(w, "urun: %s\n", strings.TrimSpace(err.Error()))
	return container.ExitCode(err)
}

func usageError(err error, helpCmd string) error {
	return fmt.Errorf("%s (see '%s')", err, helpCmd)
}

// argsError reports a wrong number of arguments.
func argsError(cmd, want string) error {
	return fmt.Errorf("%s needs %s (see 'urun %s --help')", cmd, want, cmd)
}

func printHelp(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprint(w, "Usage: urun [global flags] COMMAND [flags] [ARG...]\n\n")
	fmt.Fprint(w, "Run OCI containers as an ordinary user: no daemon, no root.\n\nCommands:\n")
	for _, n := range commandNames() {
		c := commands[n]()
		if c.short == "" {
			continue // hidden
		}
		fmt.Fprintf(w, "  %-10s %s\n", n, c.short)
	}
	fmt.Fprintf(w, "\nGlobal flags:\n%s\nRun 'urun COMMAND --help' for a command's flags.\n", fs.FlagUsages())
}

// commandNames are the subcommands, sorted.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "%s\n\nUsage: urun %s\n\nFlags:\n%s", c.short, c.usage, c.flags.FlagUsages())
}

// inUserNamespace: urun runs in a user namespace other than the initial one.
func inUserNamespace() bool { return engine.InUserNamespace() }

// globalFlags are the flags before the subcommand (also read by
// 'urun completion').
func globalFlags(g *globals) (fs *pflag.FlagSet, dataDir *string, help, version *bool) {
	fs = pflag.NewFlagSet("urun", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&g.debug, "debug", false, "print what urun does and how long each start-up phase takes")
	fs.StringVar(&g.root, "root", "", "directory for container state (default $XDG_RUNTIME_DIR/urun; /run/urun as root)")
	dataDir = fs.String("data-dir", "", "directory for images, unpacked trees and kept containers' writes (default $"+engine.DataDirEnv+", else $XDG_DATA_HOME/urun)")
	fs.StringVar(&g.log, "log", "", "also write errors to this file (as runc: for the OCI runtime face)")
	fs.StringVar(&g.logFormat, "log-format", "text", "format of --log: text or json")
	fs.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "cgroupsPath is a systemd slice:prefix:name (accepted for runc compatibility)")
	fs.StringVar(&g.rootless, "rootless", "auto", "auto, true or false (accepted for runc compatibility: urun is rootless whenever it runs unprivileged)")
	help = fs.BoolP("help", "h", false, "show this help")
	version = fs.BoolP("version", "v", false, "show the version")
	return fs, dataDir, help, version
}
