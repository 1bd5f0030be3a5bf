package main

import (
	"errors"

	"github.com/spf13/pflag"
)

func init() {
	register("create", func() *command {
		o := &ociFlags{}
		fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
		fs.SetInterspersed(false)
		o.add(fs)
		return &command{
			name:  "create",
			short: "Create a container from an OCI bundle, waiting for start (OCI runtime face)",
			usage: "create --bundle DIR [--pid-file FILE] [--console-socket SOCKET] ID",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("create", "exactly one container ID")
				}
				if o.preserveFDs != 0 {
					return errors.New("--preserve-fds is not supported yet")
				}
				return ociCreate(g, o, args[0])
			},
		}
	})
}
