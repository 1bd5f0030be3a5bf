package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cgroups are the directories, one per cgroup v1 hierarchy, that urun as
// real root made for a container (cgroupdelegate.SetupV1): the init and
// every exec'd process join them, kill --all and ps read them, pause
// freezes them, delete removes them.
type Cgroups []string

// Attach moves pid (all its threads) into every directory.
func (c Cgroups) Attach(pid int) error {
	for _, d := range c {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("moving pid %d into cgroup %s: %w", pid, d, err)
		}
	}
	return nil
}

// Pids lists the processes in the container's cgroup (nil: none made).
func (c Cgroups) Pids() []int {
	if len(c) == 0 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c[0], "cgroup.procs"))
	if err != nil {
		return nil
	}
	pids := []int{}
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// Remove removes the directories once their processes are gone (an
// exited process leaves its cgroup a moment after it is reaped).
func (c Cgroups) Remove() error {
	var errs []error
	for _, d := range c {
		var err error
		for range 100 {
			if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// Join moves this process into the container's cgroup, so that what it
// starts now is born there (cgroup v1 has no clone into a cgroup), and
// returns how to move back where it was.
func (c Cgroups) Join() (back func(), err error) {
	if len(c) == 0 {
		return func() {}, nil
	}
	own, err := ownV1Cgroups()
	if err != nil {
		return nil, err
	}
	back = func() {
		for _, d := range c {
			if from, ok := own[hierarchyOf(d)]; ok {
				os.WriteFile(filepath.Join(from, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
			}
		}
	}
	if err := c.Attach(os.Getpid()); err != nil {
		back()
		return nil, err
	}
	return back, nil
}

// hierarchyOf is the mount point a container directory lies under:
// /sys/fs/cgroup/NAME.
func hierarchyOf(dir string) string {
	rel, err := filepath.Rel("/sys/fs/cgroup", dir)
	if err != nil {
		return ""
	}
	return filepath.Join("/sys/fs/cgroup", strings.SplitN(rel, "/", 2)[0])
}

// ownV1Cgroups maps each v1 hierarchy's mount point to this process's
// directory in it, from /proc/self/cgroup ("ID:CONTROLLERS:PATH").
func ownV1Cgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		name := strings.TrimPrefix(parts[1], "name=")
		mount := filepath.Join("/sys/fs/cgroup", name)
		if _, err := os.Stat(mount); err != nil {
			// Co-mounted controllers ("cpu,cpuacct") may be mounted
			// under either name, or the joined one.
			for _, n := range strings.Split(name, ",") {
				if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", n)); err == nil {
					mount = filepath.Join("/sys/fs/cgroup", n)
					break
				}
			}
		}
		out[mount] = filepath.Join(mount, parts[2])
	}
	return out, sc.Err()
}
