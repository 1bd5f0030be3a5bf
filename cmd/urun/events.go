package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

// events prints a container's cgroup counters in runc's JSON shape
// ({"type":"stats","id":…,"data":{"cpu":…,"memory":…,"pids":…}}): once
// with --stats, else every --interval until the container stops.
func init() {
	register("events", func() *command {
		fs := pflag.NewFlagSet("events", pflag.ContinueOnError)
		stats := fs.Bool("stats", false, "print the container's counters once and exit")
		interval := fs.Duration("interval", 5*time.Second, "time between two stats events")
		var pf podmanEventFlags
		fs.StringArrayVarP(&pf.filters, "filter", "f", nil, "without ID, the event log: event=start|died|stop|kill|remove|rename|health_status, container=NAME|ID, image=REF, type=container")
		fs.StringVar(&pf.format, "format", "", "without ID: json, or a Go template over an event ({{.Status}} {{.Name}} {{.HealthStatus}} {{.ID}} {{.Image}} {{.Time}})")
		fs.BoolVar(&pf.stream, "stream", true, "without ID: wait for new events (false: print the logged ones and exit)")
		fs.StringVar(&pf.since, "since", "", "without ID: events from this time on (RFC3339, unix timestamp, or a duration back from now: 10m)")
		fs.StringVar(&pf.until, "until", "", "without ID: events up to this time, then exit (RFC3339, unix timestamp, or duration)")
		return &command{
			name:  "events",
			short: "Print a container's resource usage (runc's events ID), or without ID the event log (start, died, stop, kill, remove, rename, health_status)",
			usage: "events [--stats] [--interval 5s] ID | events [--since T] [--until T] [--filter K=V]... [--format F] [--stream=false]",
			flags: fs,
			run: func(g *globals, args []string) error {
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				podmanFlags := fs.Changed("filter") || fs.Changed("format") || fs.Changed("stream") || fs.Changed("since") || fs.Changed("until")
				if len(args) == 0 && !fs.Changed("stats") && !fs.Changed("interval") {
					return podmanEvents(root, pf)
				}
				if len(args) != 1 {
					return argsError("events", "exactly one container ID (or none, for podman's event log)")
				}
				if podmanFlags {
					return fmt.Errorf("events %s: --filter, --format, --since, --until and --stream are for the event log (no ID); with an ID urun prints runc's stats events", args[0])
				}
				enc := json.NewEncoder(os.Stdout)
				for {
					s, err := container.ReadStats(root, args[0])
					if err != nil {
						return err
					}
					if err := enc.Encode(struct {
						Type string           `json:"type"`
						ID   string           `json:"id"`
						Data *container.Stats `json:"data"`
					}{"stats", args[0], s}); err != nil {
						return err
					}
					if *stats {
						return nil
					}
					time.Sleep(*interval)
				}
			},
		}
	})
}

// podmanEventFlags are podman events' flags.
type podmanEventFlags struct {
	filters []string
	format  string
	stream  bool
	since   string
	until   string
}

// podmanEvents prints the event log as podman events does: one line per
// event (or JSON, or a template), following it unless --stream=false.
// The log holds container events only (engine/events.go): a filter for
// image events is refused rather than waiting for what never comes.
func podmanEvents(root string, f podmanEventFlags) error {
	var w engine.EventWindow
	now := time.Now()
	for _, t := range []struct {
		flag, v string
		to      *time.Time
	}{{"--since", f.since, &w.Since}, {"--until", f.until, &w.Until}} {
		if t.v == "" {
			continue
		}
		var err error
		if *t.to, err = engine.ParseEventTime(t.v, now); err != nil {
			return fmt.Errorf("%s %w", t.flag, err)
		}
	}
	byKey := map[string][]string{}
	for _, fl := range f.filters {
		k, v, ok := strings.Cut(fl, "=")
		if !ok || v == "" {
			return fmt.Errorf("--filter %q: use KEY=VALUE (event=start, container=NAME, image=REF, type=container)", fl)
		}
		switch k {
		case "event", "status":
			k = "event"
			if v == "die" {
				v = engine.EventDied // docker's name for podman's died
			}
		case "type":
			if v != "container" {
				return fmt.Errorf("--filter %s: urun's event log has container events only (type=container)", fl)
			}
		case "container", "image":
		default:
			return fmt.Errorf("--filter %q: supported keys are event (or status), container, image and type", fl)
		}
		byKey[k] = append(byKey[k], v)
	}
	var t *outputTemplate
	if f.format != "" && f.format != "json" {
		var err error
		if t, err = parseTemplate(f.format); err != nil {
			return err
		}
		t.table = false
	}
	if f.stream {
		// ^C or a kill ends a followed log as it ends podman's, even
		// when urun was started with SIGINT ignored (a background job
		// of a script inherits that): Notify takes the signal back.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		go func() { <-sigs; os.Exit(0) }()
	}
	var werr error
	err := engine.Events(root, w, f.stream, func(ev engine.Event) bool {
		if names := byKey["container"]; names != nil && !matchesContainer(ev, names) {
			return true
		}
		if evs := byKey["event"]; evs != nil && !slices.Contains(evs, ev.Status) {
			return true
		}
		if imgs := byKey["image"]; imgs != nil && !slices.Contains(imgs, ev.Image) {
			return true
		}
		switch {
		case f.format == "json":
			werr = json.NewEncoder(os.Stdout).Encode(ev)
		case t != nil:
			werr = t.write(os.Stdout, []any{ev}, "")
		default:
			attrs := fmt.Sprintf("image=%s, name=%s", ev.Image, ev.Name)
			if ev.HealthStatus != "" {
				attrs += ", health_status=" + ev.HealthStatus
			}
			if c, ok := ev.Attributes["exitCode"]; ok {
				attrs += ", containerExitCode=" + c
			}
			_, werr = fmt.Printf("%s %s %s %s (%s)\n", ev.Time.Local(), ev.Type, ev.Status, ev.ID, attrs)
		}
		return werr == nil
	})
	if err != nil {
		return err
	}
	return werr
}

// matchesContainer: the event is of one of the containers named (by
// name, id, or a prefix of the id, as podman's filter).
func matchesContainer(ev engine.Event, names []string) bool {
	for _, n := range names {
		if n == ev.Name || strings.HasPrefix(ev.ID, n) {
			return true
		}
	}
	return false
}
