package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
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
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				ids, err := container.List(root)
				if err != nil {
					return err
				}
				type entry struct {
					ID          string            `json:"id"`
					Pid         int               `json:"pid"`
					Status      string            `json:"status"`
					Bundle      string            `json:"bundle"`
					Rootfs      string            `json:"rootfs"`
					Created     time.Time         `json:"created"`
					Annotations map[string]string `json:"annotations,omitempty"`
					Owner       string            `json:"owner"`
				}
				list := []entry{}
				for _, id := range ids {
					st, err := container.Load(root, id)
					if err != nil {
						continue // removed meanwhile
					}
					pid := st.Pid
					if st.Status == "stopped" {
						pid = 0
					}
					list = append(list, entry{ID: id, Pid: pid, Status: string(st.Status), Bundle: st.Bundle, Created: st.Created, Annotations: st.Annotations, Owner: fmt.Sprint(os.Getuid())})
				}
				switch {
				case *quiet:
					for _, e := range list {
						fmt.Println(e.ID)
					}
				case *format == "json":
					return printJSON(os.Stdout, list)
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
