package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

// psEntry is one container as ps shows it; the field names are podman's,
// so `--format '{{.Names}}'` templates carry over.
type psEntry struct {
	ID         string            `json:"Id"`
	Names      []string          `json:"Names"`
	Image      string            `json:"Image"`
	Command    []string          `json:"Command"`
	Created    time.Time         `json:"Created"`
	CreatedAt  string            `json:"CreatedAt"`
	State      string            `json:"State"`
	Status     string            `json:"Status"`
	ExitCode   int               `json:"ExitCode"`
	Exited     bool              `json:"Exited"`
	ExitedAt   int64             `json:"ExitedAt"`
	StartedAt  int64             `json:"StartedAt"`
	Pid        int               `json:"Pid"`
	AutoRemove bool              `json:"AutoRemove"`
	Labels     map[string]string `json:"Labels"`
	Ports      string            `json:"-"`
	Mounts     []string          `json:"Mounts"`
	Networks   string            `json:"-"`
	// Health is the health status: starting, healthy, unhealthy, or
	// none without a health check (ps --filter health=).
	Health string `json:"-"`
}

func init() {
	register("ps", func() *command {
		fs := pflag.NewFlagSet("ps", pflag.ContinueOnError)
		all := fs.BoolP("all", "a", false, "show all containers, not only running ones")
		quiet := fs.BoolP("quiet", "q", false, "print the ids only")
		format := fs.String("format", "table", "table, json, or a Go template as docker's (e.g. 'table {{.ID}}\\t{{.Names}}', '{{json .}}')")
		noTrunc := fs.Bool("no-trunc", false, "do not shorten ids and commands")
		filters := fs.StringArrayP("filter", "f", nil, "show only containers matching KEY=VALUE: id, name, status, label, ancestor, exited, health (repeat: a key given twice matches either)")
		last := fs.IntP("last", "n", -1, "show the N most recently created containers (all states)")
		latest := fs.BoolP("latest", "l", false, "show the most recently created container (all states)")
		return &command{
			name:  "ps",
			short: "List containers",
			usage: "ps [-a] [-q] [-n N | -l] [--filter KEY=VALUE] [--format table|json|TEMPLATE]\n       urun ps ID   (OCI runtime face: the container's processes)",
			flags: fs,
			run: func(g *globals, args []string) error {
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				if len(args) == 1 {
					return ociPs(root, args[0], *format)
				}
				if len(args) > 1 {
					return argsError("ps", "no arguments (or one container id)")
				}
				if *latest {
					*last = 1
				}
				match, err := parseFilters(*filters)
				if err != nil {
					return err
				}
				// A filter on status sees every container, as docker.
				list, err := listEntries(root, *all || *last >= 0 || match.has("status") || match.has("exited"))
				if err != nil {
					return err
				}
				list = match.apply(list)
				if *last >= 0 && len(list) > *last {
					list = list[:*last]
				}
				return printPs(os.Stdout, list, *quiet, *format, *noTrunc)
			},
		}
	})
}

func printPs(w io.Writer, list []psEntry, quiet bool, format string, noTrunc bool) error {
	switch {
	case quiet:
		for _, e := range list {
			id := e.ID
			if !noTrunc {
				id = id[:12]
			}
			fmt.Fprintln(w, id)
		}
		return nil
	case format == "json":
		return printJSON(w, list)
	case format == "table":
		format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	}
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	rows := make([]any, len(list))
	for i := range list {
		rows[i] = psView{e: list[i], noTrunc: noTrunc}
	}
	return t.write(w, rows, "CONTAINER ID")
}

// psView is one container as ps templates see it: the fields docker's
// and podman's `ps --format` offer, with their formatting (a 12-character
// id, the names joined, a quoted command in tables).
type psView struct {
	e       psEntry
	noTrunc bool
}

// ID is the short id (the full one with --no-trunc).
func (v psView) ID() string {
	if v.noTrunc {
		return v.e.ID
	}
	return v.e.ID[:12]
}

// Names are the container's names, comma-separated.
func (v psView) Names() string { return strings.Join(v.e.Names, ",") }

// Image is the image reference the container was created from.
func (v psView) Image() string { return v.e.Image }

// Command is the container's command line.
func (v psView) Command() string {
	cmd := strings.Join(v.e.Command, " ")
	if !v.noTrunc && len(cmd) > 20 {
		cmd = cmd[:17] + "..."
	}
	return cmd
}

// CreatedAt is the creation time as docker prints it.
func (v psView) CreatedAt() string { return v.e.Created.Format("2006-01-02 15:04:05 -0700 MST") }

// Created is the creation time.
func (v psView) Created() time.Time { return v.e.Created }

// RunningFor is how long ago the container was created.
func (v psView) RunningFor() string { return ago(v.e.Created) }

// Status is "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
func (v psView) Status() string { return v.e.Status }

// State is created, running or exited.
func (v psView) State() string { return v.e.State }

// Ports are the published ports.
func (v psView) Ports() string { return v.e.Ports }

// Labels are the labels as k=v,k=v.
func (v psView) Labels() string {
	keys := make([]string, 0, len(v.e.Labels))
	for k := range v.e.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + v.e.Labels[k]
	}
	return strings.Join(keys, ",")
}

// Label is one label's value.
func (v psView) Label(name string) string { return v.e.Labels[name] }

// Mounts are the mount destinations.
func (v psView) Mounts() string { return strings.Join(v.e.Mounts, ",") }

// Networks is the network mode.
func (v psView) Networks() string { return v.e.Networks }

// Size is not measured.
func (v psView) Size() string { return "" }

// Pid is the init's pid (0 when not running).
func (v psView) Pid() int { return v.e.Pid }

// ExitCode is the exit status of a stopped container.
func (v psView) ExitCode() int { return v.e.ExitCode }

// Exited tells whether the container has stopped.
func (v psView) Exited() bool { return v.e.Exited }

// AutoRemove tells whether the container goes when it stops (--rm).
func (v psView) AutoRemove() bool { return v.e.AutoRemove }

// psFilter is ps --filter: for each key, the values any of which matches.
type psFilter map[string][]string

func parseFilters(fl []string) (psFilter, error) {
	m := psFilter{}
	for _, f := range fl {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("--filter %q: use KEY=VALUE", f)
		}
		switch k {
		case "id", "name", "status", "label", "ancestor", "exited":
		case "health":
			switch v {
			case container.HealthStarting, container.HealthHealthy, container.HealthUnhealthy, container.HealthNone:
			default:
				return nil, fmt.Errorf("--filter %q: health is starting, healthy, unhealthy or none", f)
			}
		default:
			return nil, fmt.Errorf("--filter %q: the keys urun knows are id, name, status, label, ancestor, exited, health", f)
		}
		m[k] = append(m[k], v)
	}
	return m, nil
}

func (m psFilter) has(k string) bool { return len(m[k]) > 0 }

func (m psFilter) apply(list []psEntry) []psEntry {
	var out []psEntry
	for _, e := range list {
		if m.match(e) {
			out = append(out, e)
		}
	}
	return out
}

func (m psFilter) match(e psEntry) bool {
	for k, vals := range m {
		ok := false
		for _, v := range vals {
			if m.one(k, v, e) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (psFilter) one(k, v string, e psEntry) bool {
	switch k {
	case "id":
		return strings.HasPrefix(e.ID, v)
	case "name":
		// docker: a substring (or regexp) of the name.
		for _, n := range e.Names {
			if strings.Contains(n, v) {
				return true
			}
		}
	case "status":
		return e.State == v || (v == "stopped" && e.State == "exited")
	case "exited":
		return e.Exited && fmt.Sprint(e.ExitCode) == v
	case "health":
		return e.Health == v
	case "label":
		lk, lv, hasValue := strings.Cut(v, "=")
		got, ok := e.Labels[lk]
		return ok && (!hasValue || got == lv)
	case "ancestor":
		img := e.Image
		return img == v || strings.TrimSuffix(img, ":latest") == strings.TrimSuffix(v, ":latest") ||
			strings.HasSuffix(strings.TrimSuffix(img, ":latest"), "/"+strings.TrimSuffix(v, ":latest"))
	}
	return false
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
		CreatedAt: st.Created.Format(time.RFC3339), AutoRemove: st.AutoRemove,
		Labels: st.Labels, Mounts: []string{}}
	if e.Labels == nil {
		e.Labels = map[string]string{}
	}
	if st.Record != "" {
		// -p/-P as podman prints them: 0.0.0.0:8080->80/tcp, comma-joined.
		if rec, err := engine.LoadRecord(st.Record); err == nil {
			e.Ports = engine.PortsColumn(rec.Network.Ports)
		}
	}
	if st.Name != "" {
		e.Names = []string{st.Name}
	} else {
		e.Names = []string{st.ID}
	}
	if !st.StartedAt.IsZero() {
		e.StartedAt = st.StartedAt.Unix()
	}
	e.Health = container.HealthNone
	if st.Healthcheck != nil {
		e.Health = container.HealthStarting
		if st.Health != nil && st.Health.Status != "" {
			e.Health = st.Health.Status
		}
	}
	switch st.Status {
	case "running":
		e.State, e.Pid = "running", st.Pid
		e.Status = "Up " + since(st.StartedAt)
		// As docker's: "Up 5 seconds (healthy)", "(health: starting)".
		switch e.Health {
		case container.HealthNone:
		case container.HealthStarting:
			e.Status += " (health: starting)"
		default:
			e.Status += " (" + e.Health + ")"
		}
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
	id, st, err := engine.Find(root, ref)
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
