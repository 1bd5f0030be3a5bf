package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

func init() {
	register("push", func() *command {
		fs := pflag.NewFlagSet("push", pflag.ContinueOnError)
		tlsVerify := fs.Bool("tls-verify", true, "require HTTPS with a trusted certificate (false for a local registry on plain HTTP)")
		authFile := fs.String("authfile", "", "the credentials file (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)")
		quiet := fs.BoolP("quiet", "q", false, "print no progress")
		return &command{
			name:  "push",
			short: "Copy a local image to a registry",
			usage: "push [flags] IMAGE [DESTINATION]\n\nDESTINATION: NAME[:TAG] or docker://NAME[:TAG] (default: IMAGE's own name);\n             urun save writes archives",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 && len(args) != 2 {
					return argsError("push", "IMAGE and at most one DESTINATION")
				}
				a := append([]string{"push"}, pullFlags(*tlsVerify, *quiet)...)
				if *authFile != "" {
					a = append(a, "--authfile", *authFile)
				}
				digest, err := imageHelper(append(a, args...)...)
				if err != nil {
					return err
				}
				// As pull does: the digest the registry now serves.
				fmt.Println(digest)
				return nil
			},
		}
	})
}
