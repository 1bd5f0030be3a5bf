package main

import (
	"os"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
)

// inspectEntry follows podman inspect's shape for the fields urun has.
type inspectEntry struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Created time.Time `json:"Created"`
	Path    string    `json:"Path"`
	Args    []string  `json:"Args"`
	State   struct {
		Status     string    `json:"Status"`
		Running    bool      `json:"Running"`
		Pid        int       `json:"Pid"`
		ExitCode   int       `json:"ExitCode"`
		StartedAt  time.Time `json:"StartedAt"`
		FinishedAt time.Time `json:"FinishedAt"`
	} `json:"State"`
	Image   string `json:"ImageName"`
	LogPath string `json:"LogPath"`
	Config  struct {
		Hostname   string   `json:"Hostname"`
		Env        []string `json:"Env"`
		Cmd        []string `json:"Cmd"`
		WorkingDir string   `json:"WorkingDir"`
		Tty        bool     `json:"Tty"`
		User       string   `json:"User"`
	} `json:"Config"`
	AutoRemove bool        `json:"AutoRemove"`
	Spec       *specs.Spec `json:"OCIConfig,omitempty"`
}

func init() {
	register("inspect", func() *command {
		fs := pflag.NewFlagSet("inspect", pflag.ContinueOnError)
		return &command{
			name:  "inspect",
			short: "Show containers' configuration and state as JSON",
			usage: "inspect CONTAINER...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("inspect", "at least one container")
				}
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				out := []inspectEntry{}
				for _, ref := range args {
					id, st, err := findContainer(root, ref)
					if err != nil {
						return err
					}
					e := inspectEntry{ID: id, Name: st.Name, Created: st.Created, Image: st.Image, LogPath: st.LogPath, AutoRemove: st.AutoRemove}
					if len(st.Command) > 0 {
						e.Path, e.Args = st.Command[0], st.Command[1:]
					}
					pe := entryOf(st)
					e.State.Status, e.State.Running, e.State.Pid, e.State.ExitCode = pe.State, pe.State == "running", pe.Pid, pe.ExitCode
					e.State.StartedAt, e.State.FinishedAt = st.StartedAt, st.FinishedAt
					if spec, err := container.LoadSpec(container.Dir(root, id)); err == nil && spec.Process != nil {
						e.Spec = spec
						e.Config.Hostname, e.Config.Env, e.Config.Cmd = spec.Hostname, spec.Process.Env, spec.Process.Args
						e.Config.WorkingDir, e.Config.Tty = spec.Process.Cwd, spec.Process.Terminal
						e.Config.User = fmtUser(spec.Process.User)
					}
					out = append(out, e)
				}
				return printJSON(os.Stdout, out)
			},
		}
	})
}

func fmtUser(u specs.User) string {
	return strconv.FormatUint(uint64(u.UID), 10) + ":" + strconv.FormatUint(uint64(u.GID), 10)
}
