package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
)

func init() {
	register("stop", func() *command {
		fs := pflag.NewFlagSet("stop", pflag.ContinueOnError)
		timeout := fs.UintP("time", "t", 10, "seconds to wait after SIGTERM before SIGKILL")
		return &command{
			name:  "stop",
			short: "Stop containers: SIGTERM, then SIGKILL after a timeout",
			usage: "stop [-t SECONDS] CONTAINER...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("stop", "at least one container")
				}
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				for _, ref := range args {
					if err := stopContainer(root, ref, time.Duration(*timeout)*time.Second); err != nil {
						return err
					}
					fmt.Println(ref)
				}
				return nil
			},
		}
	})
}

// stopContainer signals the init and waits for the recorded exit.
func stopContainer(root, ref string, timeout time.Duration) error {
	id, st, err := findContainer(root, ref)
	if err != nil {
		return err
	}
	if (st.Status != "running" && st.Status != "created") || st.Pid <= 0 {
		return nil // already stopped (or never started), as podman
	}
	unix.Kill(st.Pid, unix.SIGTERM)
	if container.WaitGone(st.Pid, st.InitStart, timeout) != nil {
		unix.Kill(st.Pid, unix.SIGKILL)
		if err := container.WaitGone(st.Pid, st.InitStart, 10*time.Second); err != nil {
			return fmt.Errorf("stopping %s: %w", ref, err)
		}
	}
	waitRecorded(root, id)
	return nil
}

// waitRecorded waits (briefly) for the supervisor to record the exit, so
// a following ps shows the code.
func waitRecorded(root, id string) {
	for i := 0; i < 500; i++ {
		st, err := container.Load(root, id)
		if err != nil || st.Supervisor == 0 || !container.ProcessAlive(st.Supervisor, st.SupervisorStart) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
