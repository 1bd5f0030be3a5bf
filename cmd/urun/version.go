package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version and commit are set at build time with -ldflags -X.
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func init() {
	register("version", func() *command {
		fs := pflag.NewFlagSet("version", pflag.ContinueOnError)
		format := fs.String("format", "", "a Go template over podman's fields, e.g. '{{.Client.Version}}' (also .GoVersion, .OsArch, .GitCommit, .BuildTags)")
		return &command{
			name:  "version",
			short: "Show urun's version, git commit, Go version and build tags",
			usage: "version [--format TEMPLATE]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("version", "no arguments")
				}
				tags := ""
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, s := range bi.Settings {
						if s.Key == "-tags" {
							tags = s.Value
						}
					}
				}
				if *format != "" {
					// podman's shape: .Client.X and .Version.X (its remote-less form).
					v := versionInfo{Version: version, GitCommit: commit, GoVersion: runtime.Version(),
						OsArch: runtime.GOOS + "/" + runtime.GOARCH, BuildTags: tags}
					t, err := parseTemplate(*format)
					if err != nil {
						return err
					}
					return t.write(os.Stdout, []any{struct{ Client, Version versionInfo }{v, v}}, "")
				}
				fmt.Printf("urun version %s\ncommit: %s\ngo: %s\nbuild tags: %s\n", version, commit, runtime.Version(), tags)
				return nil
			},
		}
	})
}

// versionInfo is what version --format sees, named as podman's fields.
type versionInfo struct {
	Version, GitCommit, GoVersion, OsArch, BuildTags string
}
