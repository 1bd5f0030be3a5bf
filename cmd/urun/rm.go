package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
)

func init() {
	register("rm", func() *command {
		fs := pflag.NewFlagSet("rm", pflag.ContinueOnError)
		force := fs.BoolP("force", "f", false, "kill running containers first; no error for missing ones")
		all := fs.BoolP("all", "a", false, "remove every container (running ones only with -f)")
		fs.BoolP("volumes", "v", false, "also remove the container's anonymous volumes (urun makes none yet: accepted)")
		return &command{
			name:  "rm",
			short: "Remove containers",
			usage: "rm [-f] [-v] CONTAINER...\n       urun rm -a [-f]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 && !*all {
					return argsError("rm", "at least one container (or -a)")
				}
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				if *all {
					list, err := listEntries(root, true)
					if err != nil {
						return err
					}
					for _, e := range list {
						if e.State == "running" && !*force {
							continue // as podman: rm -a leaves running ones without -f
						}
						args = append(args, e.ID)
					}
				}
				for _, ref := range args {
					if err := rmContainer(root, ref, *force); err != nil {
						if *force && errors.Is(err, errNoSuchContainer) {
							continue
						}
						return err
					}
					fmt.Println(ref)
				}
				return nil
			},
		}
	})
}

// rmContainer removes a stopped container, or with force any: the init
// (and with it the whole pid namespace) is killed, the supervisor given
// a moment to finish, then the state and name are removed.
func rmContainer(root, ref string, force bool) error {
	id, err := resolveContainer(root, ref)
	if err != nil {
		return err
	}
	unlock, err := container.Lock(root, id)
	if err != nil {
		return err
	}
	st, err := container.Load(root, id)
	unlock()
	if err != nil {
		return err
	}
	if st.Status == container.StatusConfigured && force {
		// Being set up or started (its urun, or the supervisor of run
		// -d or start, still runs and writes into its directory):
		// stop that first, as a started one's init is.
		for _, p := range [][2]uint64{{uint64(st.Creator), st.CreatorStart}, {uint64(st.Supervisor), st.SupervisorStart}} {
			if p[0] != 0 && container.KillProcess(int(p[0]), p[1], unix.SIGKILL) == nil {
				if err := container.WaitGone(int(p[0]), p[1], 10*time.Second); err != nil {
					return fmt.Errorf("removing %s: %w", ref, err)
				}
			}
		}
		if st, err = reload(root, id); err != nil {
			return err
		}
	}
	if (st.Status == "running" || st.Status == "created") && st.Pid > 0 {
		if !force {
			return fmt.Errorf("container %s is running: stop it first, or use 'urun rm -f'", ref)
		}
		unix.Kill(st.Pid, unix.SIGKILL)
		if err := container.WaitGone(st.Pid, st.InitStart, 10*time.Second); err != nil {
			return fmt.Errorf("removing %s: %w", ref, err)
		}
	}
	waitRecorded(root, id)
	unlock, err = container.Lock(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	return removeContainer(root, id)
}

func reload(root, id string) (*container.State, error) {
	unlock, err := container.Lock(root, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return container.Load(root, id)
}
