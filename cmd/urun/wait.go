package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
)

func init() {
	register("wait", func() *command {
		fs := pflag.NewFlagSet("wait", pflag.ContinueOnError)
		return &command{
			name:  "wait",
			short: "Wait for containers to exit and print their exit codes",
			usage: "wait CONTAINER...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("wait", "at least one container")
				}
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				for _, ref := range args {
					id, err := resolveContainer(root, ref)
					if err != nil {
						return err
					}
					for {
						st, err := container.Load(root, id)
						if err != nil {
							return err
						}
						if st.Status == "stopped" {
							waitRecorded(root, id)
							if st, err = container.Load(root, id); err != nil {
								return err
							}
							code := -1
							if st.ExitCode != nil {
								code = *st.ExitCode
							}
							fmt.Println(code)
							break
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
				return nil
			},
		}
	})
}
