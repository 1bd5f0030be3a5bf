package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/userns"
)

func init() {
	register("list", func() *command {
		fs := pflag.NewFlagSet("list", pflag.ContinueOnError)
		quiet := fs.BoolP("quiet", "q", false, "print the ids only")
		format := fs.StringP("format", "f", "table", "table or json")
		return &command{
			name:  "list",
			short: "List the containers of the state root (OCI runtime face; see also ps)",
			usage: "list [-q] [--format table|json]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("list", "no arguments")
				}
				if *format != "table" && *format != "json" {
					return fmt.Errorf("--format %q: use table or json", *format)
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				ids, err := container.List(root)
				if err != nil {
					return err
				}
				list := []runcState{}
				for _, id := range ids {
					st, err := container.Load(root, id)
					if err != nil {
						continue // removed meanwhile
					}
					e := newRuncState(root, st)
					e.Owner = stateOwner(root, id)
					list = append(list, e)
				}
				switch {
				case *quiet:
					for _, e := range list {
						fmt.Println(e.ID)
					}
				case *format == "json":
					// One line, as runc's (its tests match lines[0]).
					return json.NewEncoder(os.Stdout).Encode(list)
				default:
					w := tabwriter.NewWriter(os.Stdout, 0, 8, 1, ' ', 0)
					fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
					for _, e := range list {
						fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle, e.Created.Format(time.RFC3339Nano), e.Owner)
					}
					return w.Flush()
				}
				return nil
			},
		}
	})
}

// runcState is a container as runc's state and list print it (runc
// 1.1.5's containerState): what containerd's go-runc, CRI-O and runc's
// tests read.
type runcState struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// newRuncState fills runcState from urun's state and the saved config;
// a stopped container has pid 0, an engine's configured one is created.
func newRuncState(root string, st *container.State) runcState {
	e := runcState{Version: st.Version, ID: st.ID, Pid: st.Pid, Status: string(st.Status), Bundle: st.Bundle,
		Created: st.Created, Annotations: st.Annotations}
	if st.Status == container.StatusConfigured {
		e.Status = "created"
	}
	if st.Status == "stopped" {
		e.Pid = 0
	}
	if spec, err := container.LoadSpecHead(container.Dir(root, st.ID)); err == nil {
		if spec.Version != "" {
			e.Version = spec.Version
		}
		if spec.Root != nil {
			e.Rootfs = spec.Root.Path
			if !filepath.IsAbs(e.Rootfs) && st.Bundle != "" {
				e.Rootfs = filepath.Join(st.Bundle, e.Rootfs)
			}
		}
	}
	return e
}

// stateOwner is the user name owning the container's state directory,
// or #UID when the name is unknown (as runc).
func stateOwner(root, id string) string {
	var s unix.Stat_t
	if err := unix.Stat(container.Dir(root, id), &s); err != nil {
		return ""
	}
	uid := strconv.Itoa(int(s.Uid))
	if u, err := userns.LookupUID(int(s.Uid)); err == nil {
		return u.Username
	}
	return "#" + uid
}
