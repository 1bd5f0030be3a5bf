package main

import (
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("kill", func() *command {
		fs := pflag.NewFlagSet("kill", pflag.ContinueOnError)
		all := fs.BoolP("all", "a", false, "send the signal to every process of the container")
		sigFlag := fs.StringP("signal", "s", "", "signal to send (name or number; default KILL, as docker and podman; TERM for the OCI runtime face, with --root, as runc)")
		return &command{
			name:  "kill",
			short: "Send a signal to a container (default SIGKILL; SIGTERM with --root, as runc)",
			usage: "kill [--all] ID [SIGNAL]\n       urun kill [-s SIGNAL] ID",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) < 1 || len(args) > 2 {
					return argsError("kill", "a container ID and optionally a signal")
				}
				sig := unix.SIGKILL
				if g.root != "" {
					sig = unix.SIGTERM // runc's default: the OCI face
				}
				name := *sigFlag
				if len(args) == 2 {
					name = args[1]
				}
				if name != "" {
					var err error
					if sig, err = parseSignal(name); err != nil {
						return err
					}
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				id, err := engine.Resolve(root, args[0])
				if err != nil {
					return err
				}
				return engine.Kill(root, id, sig, *all)
			},
		}
	})
}
