package main

import (
	"encoding/json"
	"os"
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
		return &command{
			name:  "events",
			short: "Print a container's resource usage (runc's events)",
			usage: "events [--stats] [--interval 5s] ID",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("events", "exactly one container ID")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
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
