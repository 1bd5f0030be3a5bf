package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

// psEntry is one container as ps shows it; the field names are podman's,
// so `--format '{{.Names}}'` templates carry over.
type psEntry struct {
	ID         string    `json:"Id"`
	Names      []string  `json:"Names"`
	Image      string    `json:"Image"`
	Command    []string  `json:"Command"`
	Created    time.Time `json:"Created"`
	CreatedAt  string    `json:"CreatedAt"`
	State      string    `json:"State"`
	Status     string    `json:"Status"`
	ExitCode   int       `json:"ExitCode"`
	Exited     bool      `json:"Exited"`
	ExitedAt   int64     `json:"ExitedAt"`
	StartedAt  int64     `json:"StartedAt"`
	Pid        int       `json:"Pid"`
	AutoRemove bool      `json:"AutoRemove"`
}

func init() {
	register("ps", func() *command {
		fs := pflag.NewFlagSet("ps", pflag.ContinueOnError)
		all := fs.BoolP("all", "a", false, "show all containers, not only running ones")
		quiet := fs.BoolP("quiet", "q", false, "print the ids only")
		format := fs.String("format", "table", "table, json, or a Go template (e.g. '{{.Names}} {{.Status}}')")
		noTrunc := fs.Bool("no-trunc", false, "do not shorten ids and commands")
		return &command{
			name:  "ps",
			short: "List containers",
			usage: "ps [-a] [-q] [--format table|json|TEMPLATE]\n       urun ps ID   (OCI runtime face: the container's processes)",
			flags: fs,
			run: func(g *globals, args []string) error {
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				if len(args) == 1 {
					return ociPs(root, args[0], *format)
				}
				if len(args) > 1 {
					return argsError("ps", "no arguments (or one container id)")
				}
				list, err := listEntries(root, *all)
				if err != nil {
					return err
				}
				switch {
				case *quiet:
					for _, e := range list {
						fmt.Println(e.ID[:12])
					}
				case *format == "json":
					return printJSON(os.Stdout, list)
				case *format == "table":
					w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
					fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
					for _, e := range list {
						id, cmd := e.ID[:12], strings.Join(e.Command, " ")
						if *noTrunc {
							id = e.ID
						} else if len(cmd) > 20 {
							cmd = cmd[:17] + "..."
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, e.Image, cmd, ago(e.Created), e.Status, strings.Join(e.Names, ","))
					}
					return w.Flush()
				default:
					tmpl, err := template.New("ps").Funcs(template.FuncMap{"join": strings.Join}).Parse(*format)
					if err != nil {
						return fmt.Errorf("--format: %w", err)
					}
					for _, e := range list {
						if err := tmpl.Execute(os.Stdout, e); err != nil {
							return fmt.Errorf("--format: %w", err)
						}
						fmt.Println()
					}
				}
				return nil
			},
		}
	})
}

// listEntries is every container (running only, unless all), newest first.
func listEntries(root string, all bool) ([]psEntry, error) {
	states, err := engine.List(root)
	if err != nil {
		return nil, err
	}
	list := []psEntry{}
	for _, st := range states {
		e := entryOf(st)
		if !all && e.State != "running" {
			continue
		}
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	return list, nil
}

// entryOf derives what ps shows. A container whose init is gone without
// a recorded exit (its supervisor was killed, or the machine rebooted)
// shows as exited with an unknown code: rm still works.
func entryOf(st *container.State) psEntry {
	e := psEntry{ID: st.ID, Image: st.Image, Command: st.Command, Created: st.Created,
		CreatedAt: st.Created.Format(time.RFC3339), AutoRemove: st.AutoRemove}
	if st.Name != "" {
		e.Names = []string{st.Name}
	} else {
		e.Names = []string{st.ID}
	}
	if !st.StartedAt.IsZero() {
		e.StartedAt = st.StartedAt.Unix()
	}
	switch st.Status {
	case "running":
		e.State, e.Pid = "running", st.Pid
		e.Status = "Up " + since(st.StartedAt)
	case "created", container.StatusConfigured:
		e.State, e.Status = "created", "Created"
	default:
		e.State, e.Exited = "exited", true
		if st.ExitCode != nil {
			e.ExitCode = *st.ExitCode
			e.Status = fmt.Sprintf("Exited (%d) %s ago", *st.ExitCode, since(st.FinishedAt))
		} else {
			e.ExitCode = -1
			e.Status = "Exited (unknown)"
		}
		if !st.FinishedAt.IsZero() {
			e.ExitedAt = st.FinishedAt.Unix()
		}
	}
	return e
}

func since(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Second:
		return "Less than a second"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return fmt.Sprintf("%d hours", int(d.Hours()))
}

func ago(t time.Time) string { return since(t) + " ago" }

// ociPs lists the processes of one container (runc ps ID).
func ociPs(root, ref, format string) error {
	id, st, err := findContainer(root, ref)
	if err != nil {
		return err
	}
	if st.Status == "stopped" {
		if format == "json" {
			fmt.Println("[]")
		}
		return nil
	}
	// Not every process in the init's pid namespace: a pod's shared
	// one, or the host's, holds others (container.ContainerPids).
	pids := container.ContainerPids(root, id, st)
	if format == "json" {
		return printJSON(os.Stdout, pids)
	}
	fmt.Println("PID")
	for _, p := range pids {
		fmt.Println(p)
	}
	return nil
}
