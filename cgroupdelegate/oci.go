package cgroupdelegate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociFields names each limit flag's config.json field, for the OCI face.
var ociFields = map[string]string{
	"--memory": "linux.resources.memory.limit", "--memory-reservation": "linux.resources.memory.reservation",
	"--memory-swap": "linux.resources.memory.swap", "--pids-limit": "linux.resources.pids.limit",
	"--cpus": "linux.resources.cpu.quota", "--cpu-shares": "linux.resources.cpu.shares",
	"--cpuset-cpus": "linux.resources.cpu.cpus", "--cpuset-mems": "linux.resources.cpu.mems",
	"--blkio-weight": "linux.resources.blockIO.weight",
}

// CheckOCI is the rootless OCI face's (runc create/run) check of a
// config's cgroup settings, made before anything on the host changes:
// limits are never dropped silently. On a host that cannot delegate a
// cgroup it gives the cause and fix Setup gives `urun run`; where it
// could, the OCI face still keeps no cgroup of its own for a container
// that outlives urun, and says so. A linux.cgroupsPath the user may not
// create is refused as rootless runc refuses it.
func CheckOCI(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	if plan := Plan(spec.Linux.Resources); len(plan) > 0 {
		var fields []string
		for _, w := range plan {
			if f := ociFields[w.Flag]; !contains(fields, f) {
				fields = append(fields, f)
			}
		}
		list := strings.Join(fields, " and ")
		// runc's words first ("cannot set pids limit: container could
		// not join or create cgroup"), which callers match.
		pre := fmt.Sprintf("cannot set %s limit: container could not join or create cgroup: ", strings.Join(Controllers(plan), " and "))
		if _, u := probeHost(); u != nil {
			return fmt.Errorf("%s%s needs a cgroup, but %s; fix: %s, or remove it from config.json", pre, list, u.Cause, u.Fix)
		}
		return fmt.Errorf("%s%s needs a cgroup, and urun's OCI face does not apply limits yet; fix: remove it from config.json, or run the container with `urun run` and its limit flags", pre, list)
	}
	if p := spec.Linux.CgroupsPath; p != "" && !strings.Contains(p, ":") {
		if err := creatableCgroup(p); err != nil {
			// runc's words first: callers match "unable to apply
			// cgroup configuration".
			return fmt.Errorf("unable to apply cgroup configuration: linux.cgroupsPath %s: %w; fix: remove linux.cgroupsPath from config.json, or give the user a delegated cgroup", p, err)
		}
	}
	return nil
}

// creatableCgroup tells whether the user could create cgroup path p in
// each hierarchy mounted under cgroupRoot (a "slice:prefix:name" path
// is systemd's, checked by nothing here).
func creatableCgroup(p string) error {
	dirs := []string{cgroupRoot}
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err == nil && st.Type != unix.CGROUP2_SUPER_MAGIC {
		ents, err := os.ReadDir(cgroupRoot)
		if err != nil {
			return fmt.Errorf("listing the cgroup hierarchies: %w", err)
		}
		dirs = dirs[:0]
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(cgroupRoot, e.Name()))
			}
		}
	}
	for _, d := range dirs {
		// mkdir needs the nearest existing ancestor writable; joining
		// an existing cgroup needs it writable itself.
		a := filepath.Join(d, p)
		for a != d {
			if _, err := os.Stat(a); err == nil {
				break
			}
			a = filepath.Dir(a)
		}
		if err := unix.Access(a, unix.W_OK); err != nil {
			return fmt.Errorf("cannot create or join cgroup %s: %w", filepath.Join(d, p), err)
		}
	}
	return nil
}
