package main

import (
	"encoding/json"
	"os"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/hostcheck"
)

func init() {
	register("info", func() *command {
		fs := pflag.NewFlagSet("info", pflag.ContinueOnError)
		format := fs.String("format", "text", "output format: text, json (schema: hostcheck/info.schema.json), or a Go template as podman's ('{{.Host.Arch}}', '{{.Store.GraphRoot}}', '{{.Version.Version}}'; urun's facts under .Urun)")
		return &command{
			name:  "info",
			short: "Show versions, id mapping, helpers, storage, cgroups and network of this host",
			usage: "info [--format text|json|TEMPLATE]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("info", "no arguments")
				}
				if *format != "text" && *format != "json" {
					// A Go template: podman's fields where they map
					// (.Host.Arch, .Store.GraphRoot, .Version.Version),
					// urun's own facts under .Urun (.Urun.Kernel.Release).
					t, err := parseTemplate(*format)
					if err != nil {
						return err
					}
					return t.write(os.Stdout, []any{infoView(gatherFacts())}, "")
				}
				f := gatherFacts()
				if *format == "json" {
					enc := json.NewEncoder(os.Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(f)
				}
				hostcheck.WriteInfo(os.Stdout, f)
				return nil
			},
		}
	})
}

// infoTemplate is what info --format TEMPLATE sees.
type infoTemplate struct {
	Host struct {
		Arch, OS, Kernel string
		CgroupsVersion   string
		Security         struct{ Rootless bool }
	}
	Store   struct{ GraphRoot, RunRoot string }
	Version versionInfo
	Urun    any
}

func infoView(hf hostcheck.Facts) infoTemplate {
	var v infoTemplate
	v.Urun = hf
	v.Host.Arch, v.Host.OS = runtime.GOARCH, runtime.GOOS
	v.Version = versionInfo{Version: version, GitCommit: commit, GoVersion: runtime.Version(),
		OsArch: runtime.GOOS + "/" + runtime.GOARCH}
	{
		v.Host.Kernel = hf.Kernel.Release
		v.Host.Security.Rootless = hf.User.UID != 0
		v.Store.GraphRoot, v.Store.RunRoot = hf.Dirs.Data, hf.Dirs.State
		switch hf.Cgroup.Layout {
		case "v2":
			v.Host.CgroupsVersion = "v2"
		case "v1", "hybrid":
			v.Host.CgroupsVersion = "v1"
		}
	}
	return v
}
