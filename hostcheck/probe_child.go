package hostcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// ProbeCommand is the hidden urun subcommand that runs ChildMain inside
// the probe's namespaces.
const ProbeCommand = "__hostcheck"

// Messages between the probe parent and ChildMain.
const (
	msgProbe  = "probe"
	msgProbed = "probed"
)

// The probe kinds ChildMain runs.
const (
	kindUserns  = "userns"  // mount a tmpfs: the namespace has capabilities
	kindMaps    = "maps"    // read back the maps newuidmap wrote
	kindOverlay = "overlay" // kernel overlayfs in Dir
	kindFuse    = "fuse"    // fuse-overlayfs in Dir
	kindHold    = "hold"    // keep the namespaces alive until told to go
	kindIdmap   = "idmap"   // an idmapped lower layer under kernel overlayfs in Dir
)

// probeRequest tells the child what to try.
type probeRequest struct {
	Kind string `json:"kind"`
	// Dir is a directory the parent made for this probe.
	Dir string `json:"dir,omitempty"`
	// FuseOverlayfs is the fuse-overlayfs binary to run.
	FuseOverlayfs string `json:"fuseOverlayfs,omitempty"`
}

// probeAnswer is the child's report on success.
type probeAnswer struct {
	UIDMap string `json:"uidMap,omitempty"`
	GIDMap string `json:"gidMap,omitempty"`
}

// childTimeout bounds each wait for the parent.
const childTimeout = 10 * time.Second

// ChildMain runs one probe in the namespaces the parent made and answers
// with msgProbed or an error carrying the errno.
func ChildMain() int {
	conn, err := userns.ChildConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "urun:", err)
		return 125
	}
	defer conn.Close()
	var req probeRequest
	err = conn.WaitMapped()
	if err == nil {
		err = conn.WaitFor(msgProbe, childTimeout, &req)
	}
	var ans probeAnswer
	if err == nil {
		ans, err = runChildProbe(req)
	}
	if err != nil {
		conn.SendError(errnoError(err))
		return 1
	}
	conn.Send(msgProbed, ans)
	if req.Kind == kindHold {
		conn.Receive(0) // until the parent closes its end
	}
	return 0
}

// errnoError prefixes the errno name so the parent can classify it.
func errnoError(err error) error {
	var en unix.Errno
	if errors.As(err, &en) {
		return fmt.Errorf("%s|%w", unix.ErrnoName(en), err)
	}
	return err
}

// Preconditions: root in a new user namespace with its own mount namespace.
func runChildProbe(req probeRequest) (probeAnswer, error) {
	var ans probeAnswer
	if req.Kind != kindMaps && req.Kind != kindHold {
		// Never let a probe mount propagate anywhere.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return ans, fmt.Errorf("making mounts private: %w", err)
		}
	}
	switch req.Kind {
	case kindUserns:
		if err := unix.Mount("tmpfs", req.Dir, "tmpfs", 0, "size=64k"); err != nil {
			return ans, fmt.Errorf("mounting a tmpfs in the new namespaces: %w", err)
		}
		return ans, unix.Unmount(req.Dir, 0)
	case kindMaps:
		u, err := os.ReadFile("/proc/self/uid_map")
		if err != nil {
			return ans, err
		}
		g, err := os.ReadFile("/proc/self/gid_map")
		if err != nil {
			return ans, err
		}
		return probeAnswer{UIDMap: string(u), GIDMap: string(g)}, nil
	case kindOverlay:
		return ans, overlayChild(req.Dir)
	case kindFuse:
		return ans, fuseChild(req.Dir, req.FuseOverlayfs)
	case kindIdmap:
		return ans, idmapLowerChild(req.Dir)
	case kindHold:
		return ans, nil
	}
	return ans, fmt.Errorf("unknown probe %q", req.Kind)
}

// overlayChild mounts kernel overlayfs over dir/lower, dir/upper and
// dir/work (made by the parent) at dir/merged, as a container's root would
// be, and writes through it.
func overlayChild(dir string) error {
	p := func(s string) string { return filepath.Join(dir, s) }
	opts := "lowerdir=" + p("lower") + ",upperdir=" + p("upper") + ",workdir=" + p("work") + ",userxattr"
	if err := unix.Mount("overlay", p("merged"), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount -t overlay: %w", err)
	}
	defer unix.Unmount(p("merged"), unix.MNT_DETACH)
	return writeThrough(p("merged"))
}

// fuseChild does the same with fuse-overlayfs.
func fuseChild(dir, bin string) error {
	p := func(s string) string { return filepath.Join(dir, s) }
	// fuse-overlayfs forks its daemon into the background; as subreaper
	// we inherit it and can reap it, so no zombie outlives the probe.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("becoming a subreaper: %w", err)
	}
	defer reapAll(time.Now().Add(2 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-o", "lowerdir="+p("lower")+",upperdir="+p("upper")+",workdir="+p("work"), p("merged"))
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(bin), err, bytes.TrimSpace(stderr.Bytes()))
	}
	// Unmounting ends the fuse-overlayfs daemon, which would otherwise
	// keep this mount namespace alive after we exit.
	defer unix.Unmount(p("merged"), 0)
	return writeThrough(p("merged"))
}

// writeThrough reads the lower layer's file and writes a new one.
func writeThrough(merged string) error {
	if _, err := os.ReadFile(filepath.Join(merged, "probe")); err != nil {
		return fmt.Errorf("reading through the overlay: %w", err)
	}
	if err := os.WriteFile(filepath.Join(merged, "written"), []byte("ok"), 0o644); err != nil {
		return fmt.Errorf("writing through the overlay: %w", err)
	}
	return nil
}

// reapAll waits for every child (the fuse daemon exits once unmounted)
// until none is left or the deadline passes.
func reapAll(deadline time.Time) {
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return
		case err == nil && pid == 0:
			time.Sleep(2 * time.Millisecond)
		case err != nil && !errors.Is(err, unix.EINTR):
			return
		}
	}
}

// idmapLowerChild tries what a run with another id mapping would need to
// share the layer store's files instead of copying them: dir/lower (a
// directory of the storage root, on the host's filesystem) cloned as a
// detached mount, idmapped with this user namespace (mount_setattr
// MOUNT_ATTR_IDMAP), attached at dir/idmapped and used as kernel
// overlayfs's lower directory at dir/merged, where its file must read
// with the owner the idmapping gives it and a write must go through. The
// kernel allows the idmapping only to a caller with CAP_SYS_ADMIN in the
// user namespace that owns the filesystem (the initial one for ext4 or
// xfs on the host), so an ordinary user normally gets EPERM here.
func idmapLowerChild(dir string) error {
	p := func(s string) string { return filepath.Join(dir, s) }
	tree, err := unix.OpenTree(unix.AT_FDCWD, p("lower"), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree(OPEN_TREE_CLONE) of the lower directory: %w", err)
	}
	defer unix.Close(tree)
	ns, err := unix.Open("/proc/self/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening this user namespace: %w", err)
	}
	defer unix.Close(ns)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns)}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, attr); err != nil {
		return fmt.Errorf("mount_setattr(MOUNT_ATTR_IDMAP) on a clone of a directory in the storage root: %w", err)
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, p("idmapped"), unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching the idmapped lower directory: %w", err)
	}
	defer unix.Unmount(p("idmapped"), unix.MNT_DETACH)
	opts := "lowerdir=" + p("idmapped") + ",upperdir=" + p("upper") + ",workdir=" + p("work") + ",userxattr"
	if err := unix.Mount("overlay", p("merged"), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount -t overlay over the idmapped lower directory: %w", err)
	}
	defer unix.Unmount(p("merged"), unix.MNT_DETACH)
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(p("merged"), "probe"), &st); err != nil {
		return fmt.Errorf("stat through the overlay: %w", err)
	}
	// The file is the user's (U) on the host, which this namespace shows
	// as 0. Idmapped with this namespace, the mount shows the namespace's
	// id U, which it does not map: the overflow id. Owner 0 means the
	// idmapping did not take effect.
	if st.Uid == 0 {
		return errors.New("the idmapped lower layer shows the owner it has without the idmapping: the kernel ignored MOUNT_ATTR_IDMAP")
	}
	return writeThrough(p("merged"))
}
