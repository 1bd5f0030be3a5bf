package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
)

func init() {
	register("spec", func() *command {
		fs := pflag.NewFlagSet("spec", pflag.ContinueOnError)
		bundle := fs.StringP("bundle", "b", ".", "write config.json into this directory")
		rootless := fs.Bool("rootless", false, "a config for an ordinary user: a user namespace mapping root to you, no device nodes")
		return &command{
			name:  "spec",
			short: "Write a starter config.json for an OCI bundle",
			usage: "spec [--rootless] [--bundle DIR]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("spec", "no arguments")
				}
				p := filepath.Join(*bundle, "config.json")
				if _, err := os.Stat(p); err == nil {
					return fmt.Errorf("%s already exists: remove it first", p)
				}
				b, err := json.MarshalIndent(starterSpec(*rootless), "", "\t")
				if err != nil {
					return err
				}
				if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
					if errors.Is(err, os.ErrNotExist) {
						return fmt.Errorf("bundle directory %s does not exist", *bundle)
					}
					return err
				}
				return nil
			},
		}
	})
}

// starterSpec is runc spec's config: sh on a rootfs directory, the
// default mounts, masked paths and capabilities.
func starterSpec(rootless bool) *specs.Spec {
	opts := container.Options{Command: []string{"sh"}, Tty: true, Hostname: "urun"}
	s, err := container.BuildSpec(imageConfigForStarter(), opts, nil, func(string) (string, bool) { return "", false })
	if err != nil {
		panic(err) // static input
	}
	s.Root = &specs.Root{Path: "rootfs", Readonly: true}
	s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
	if rootless {
		if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace }) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getgid()), Size: 1}}
	}
	return s
}

func imageConfigForStarter() container.ImageConfig {
	return container.ImageConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}}
}
