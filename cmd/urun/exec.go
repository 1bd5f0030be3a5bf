package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

type execFlags struct {
	tty, interactive, detach bool
	env                      []string
	envFiles                 []string
	user, workdir            string
	process                  string
	pidFile, consoleSocket   string
	caps                     []string
	noNewPrivs               bool
	preserveFDs              int
	additionalGids           []int
}

func init() {
	register("exec", func() *command {
		f := &execFlags{}
		fs := pflag.NewFlagSet("exec", pflag.ContinueOnError)
		fs.SetInterspersed(false)
		fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-terminal")
		fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep stdin open")
		fs.BoolVarP(&f.detach, "detach", "d", false, "run in the background")
		fs.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable KEY=VALUE")
		fs.StringArrayVar(&f.envFiles, "env-file", nil, "read environment variables from a file, one KEY=VALUE per line")
		fs.StringVarP(&f.user, "user", "u", "", "run as USER[:GROUP], by name or number")
		fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
		fs.StringVar(&f.workdir, "cwd", "", "same as --workdir (runc's name)")
		fs.StringVarP(&f.process, "process", "p", "", "the process as runtime-spec process JSON (OCI face)")
		fs.StringVar(&f.pidFile, "pid-file", "", "write the process's pid to this file")
		fs.StringVar(&f.consoleSocket, "console-socket", "", "unix socket to send the pty master to (OCI face)")
		fs.StringArrayVarP(&f.caps, "cap", "c", nil, "add a capability to the process (OCI face)")
		fs.BoolVar(&f.noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
		fs.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass this many extra descriptors (from 3) to the process")
		fs.IntSliceVarP(&f.additionalGids, "additional-gids", "g", nil, "further groups of the process (OCI face)")
		return &command{
			name:  "exec",
			short: "Run a further process in a running container",
			usage: "exec [flags] CONTAINER COMMAND [ARG...]\n       urun exec --process FILE [flags] ID",
			flags: fs,
			run:   func(g *globals, args []string) error { return execCommand(g, f, args) },
		}
	})
}

func execCommand(g *globals, f *execFlags, args []string) error {
	if len(args) == 0 || (f.process == "" && len(args) < 2) {
		return argsError("exec", "a container and a command (or --process FILE)")
	}
	root, err := engine.StateRoot(g.root)
	if err != nil {
		return err
	}
	id, st, err := engine.Find(root, args[0])
	if err != nil {
		return err
	}
	var p *specs.Process
	if f.process != "" {
		b, err := os.ReadFile(f.process)
		if err != nil {
			return fmt.Errorf("--process: %w", err)
		}
		p = &specs.Process{}
		if err := json.Unmarshal(b, p); err != nil {
			return fmt.Errorf("--process %s: %w", f.process, err)
		}
		if len(p.Args) == 0 {
			return fmt.Errorf("--process %s: args is empty", f.process)
		}
	} else {
		spec, err := container.LoadSpec(container.Dir(root, id))
		if err != nil {
			return err
		}
		p = spec.Process
		p.Args = args[1:]
		p.Terminal = f.tty
		p.ConsoleSize = nil
		if f.user != "" {
			u, err := container.ResolveUser(f.user, engine.RootReader("/proc/"+strconv.Itoa(st.Pid)+"/root"))
			if err != nil {
				return err
			}
			p.User = u
		}
	}
	if f.tty {
		p.Terminal = true
	}
	if f.workdir != "" {
		p.Cwd = f.workdir
	}
	for _, file := range f.envFiles {
		lines, err := readEnvFile(file)
		if err != nil {
			return err
		}
		p.Env = append(p.Env, lines...)
	}
	p.Env = append(p.Env, f.env...)
	if f.noNewPrivs {
		p.NoNewPrivileges = true
	}
	for _, gid := range f.additionalGids {
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	preserved, err := preservedFDs(f.preserveFDs)
	if err != nil {
		return err
	}
	for _, c := range f.caps {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		c := container.NormalizeCap(c)
		p.Capabilities.Bounding = append(p.Capabilities.Bounding, c)
		p.Capabilities.Effective = append(p.Capabilities.Effective, c)
		p.Capabilities.Permitted = append(p.Capabilities.Permitted, c)
	}
	initPath, err := findInit()
	if err != nil {
		return err
	}
	stdin := os.Stdin
	if !f.interactive && !f.tty && f.process == "" {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return err
		}
		defer devnull.Close()
		stdin = devnull
	}
	cfg := container.ExecConfig{
		Root: root, ID: id, Process: p, InitPath: initPath,
		Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Detach: f.detach, PreserveFDs: preserved,
	}
	if f.pidFile != "" {
		cfg.Started = func(pid int) error { return writePidFile(f.pidFile, pid) }
	}
	if f.consoleSocket != "" {
		cfg.Console = func(m *os.File) error { return sendConsole(f.consoleSocket, m) }
	}
	cfg.SeccompCache = seccompCacheDir()
	status, err := container.Exec(cfg)
	if err != nil {
		return err
	}
	return exitStatus(status)
}
