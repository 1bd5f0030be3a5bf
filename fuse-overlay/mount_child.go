package fuseoverlay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fuseTimeout bounds the fuse-overlayfs start; it forks into the
// background once the mount is up.
const fuseTimeout = 10 * time.Second

// Warnings receives the one line the copy tier prints when Auto falls to
// it: the container's stderr before it starts, which is urun's own for a
// foreground container.
var Warnings io.Writer = os.Stderr

// MountRootfs mounts the root filesystem described by p at target.
//
// Preconditions: runs in the container's user and mount namespaces, as
// root there, with mount propagation already private.
func MountRootfs(p Plan, target string) (Tier, error) {
	m, err := MountRootfsReport(p, target)
	return m.Tier, err
}

// MountRootfsReport is MountRootfs, also saying why the tiers auto tried
// first failed.
func MountRootfsReport(p Plan, target string) (Mounted, error) {
	if err := p.Validate(); err != nil {
		return Mounted{}, err
	}
	if p.Upper != "" && HasDiskCopy(p.Work) {
		// A kept container that the copy tier started once: its writes
		// are in that copy, which no overlay can show.
		if p.Tier != Auto && p.Tier != Copy {
			return Mounted{}, fmt.Errorf("this container's root filesystem is a copy of the image (tier copy), with its writes: start it with --rootfs-tier copy or auto")
		}
		p.Tier = Copy
	}
	if p.Tier != Auto {
		_, err := mountTier(p, target)
		if err != nil && p.Tier == Native {
			err = fmt.Errorf("%w (tier native); try --rootfs-tier fuse", err)
		}
		return Mounted{Tier: p.Tier}, err
	}
	order := autoOrder
	for i, t := range autoOrder {
		if t == p.Start {
			order = autoOrder[i:]
		}
	}
	var reasons []string
	for _, t := range order {
		p.Tier = t
		st, err := mountTier(p, target)
		if err == nil {
			if t == Copy {
				fmt.Fprintln(Warnings, copyWarning(reasons, st, p.Upper != ""))
			}
			return Mounted{Tier: t, Failed: reasons}, nil
		}
		// The kernel refused overlayfs in this user namespace (an old
		// kernel, or a lower filesystem it will not stack on): user space
		// can; where it cannot either, a copy can.
		reasons = append(reasons, string(t)+": "+err.Error())
	}
	return Mounted{}, fmt.Errorf("mounting the root filesystem: %s", strings.Join(reasons, "; "))
}

// copyWarning is the one line that says Auto fell to the copy tier, why,
// what it costs and how to avoid it.
func copyWarning(reasons []string, st copyStats, onDisk bool) string {
	where := "into memory for this container"
	if onDisk {
		where = "into this container's writable layer on disk"
	}
	w := fmt.Sprintf("urun: warning: neither overlayfs nor fuse-overlayfs works here (%s); copied the image (%.1f MB, %d files) %s — install fuse-overlayfs and make /dev/fuse usable (see `urun doctor`), or set %s=copy to accept the copy",
		strings.Join(reasons, "; "), float64(st.bytes)/1e6, st.files, where, TierEnv)
	if len(st.skipped) > 0 {
		w += fmt.Sprintf("; %d device nodes not copied", len(st.skipped))
	}
	return w
}

func mountTier(p Plan, target string) (copyStats, error) {
	switch p.Tier {
	case Bind:
		if err := unix.Mount(p.Lower[0], target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return copyStats{}, fmt.Errorf("bind-mounting rootfs %s: %w", p.Lower[0], err)
		}
		return copyStats{}, nil
	case Copy:
		return mountCopy(p, target)
	}
	return copyStats{}, mountOverlayTier(p, target)
}

func mountOverlayTier(p Plan, target string) error {
	upper, work := p.Upper, p.Work
	if upper == "" {
		// The writable layer lives in a tmpfs under the target, hidden by
		// the overlay mounted over it and freed with the mount namespace.
		if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
			return fmt.Errorf("mounting tmpfs for the container's writable layer: %w", err)
		}
		upper, work = filepath.Join(target, ".upper"), filepath.Join(target, ".work")
		merged := filepath.Join(target, ".merged")
		for _, d := range []string{upper, work, merged} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return fmt.Errorf("preparing overlay directories: %w", err)
			}
		}
		if err := mountOverlay(p, upper, work, merged); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return err
		}
		// Move the merged view onto target so callers see one mount.
		if err := unix.Mount(merged, target, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving the overlay onto %s: %w", target, err)
		}
		return nil
	}
	if err := mountOverlay(p, upper, work, target); err != nil {
		return err
	}
	if p.Tier == Native {
		// With its upper layer on FUSE (sshfs, a fuse-overlayfs data
		// directory) or NFS, kernel overlayfs mounts but every write
		// through it fails (measured: "creating mount point file: no such
		// file or directory" at /etc/hosts). Auto then goes on to
		// fuse-overlayfs; the same write is hostcheck's storage probe.
		if err := writeThrough(target); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("kernel overlayfs mounted, but the container's writable layer cannot be written through it (its filesystem does not support overlayfs upper layers, as FUSE and NFS do not): %w", err)
		}
	}
	return nil
}

// writeThrough creates and removes a file at the root of an overlay.
func writeThrough(root string) error {
	p := filepath.Join(root, ".urun-write-check")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(p)
}

func mountOverlay(p Plan, upper, work, target string) error {
	// Both implementations get the directories as descriptors, not host
	// paths: the kernel shows overlay options in /proc/mounts as given,
	// and ps in the container shows fuse-overlayfs' command line (which
	// would carry the user's name).
	dirs := append(append([]string{}, p.Lower...), upper, work)
	if p.Tier == Fuse {
		dirs = append(dirs, target)
	}
	files, err := openDirs(dirs)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	switch p.Tier {
	case Native:
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
		}
		n := len(p.Lower)
		hp := p
		hp.Lower = paths[:n]
		err := unix.Mount("overlay", target, "overlay", 0, overlayOptions(hp, paths[n], paths[n+1], true))
		if errors.Is(err, unix.EINVAL) && hp.Volatile {
			// A kernel before 5.10 knows no "volatile": the layer is
			// then synced at unmount, as any other.
			hp.Volatile = false
			err = unix.Mount("overlay", target, "overlay", 0, overlayOptions(hp, paths[n], paths[n+1], true))
		}
		if err != nil {
			return fmt.Errorf("mounting kernel overlayfs: %w", err)
		}
		return nil
	case Fuse:
		// fuse-overlayfs inherits the descriptors as 3, 4, ...
		paths := make([]string, len(files))
		for i := range files {
			paths[i] = "/proc/self/fd/" + strconv.Itoa(3+i)
		}
		n := len(p.Lower)
		hp := p
		hp.Lower = paths[:n]
		return mountFuse(hp, paths[n], paths[n+1], paths[n+2], files)
	}
	return fmt.Errorf("unknown rootfs tier %q", p.Tier)
}

// openDirs opens each directory as a path-only handle.
func openDirs(dirs []string) ([]*os.File, error) {
	var files []*os.File
	for _, d := range dirs {
		f, err := os.OpenFile(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("opening overlay directory: %w", err)
		}
		files = append(files, f)
	}
	return files, nil
}

// mountFuse runs fuse-overlayfs with the directories (and the mount
// point) named through the descriptors in files, which it inherits.
func mountFuse(p Plan, upper, work, target string, files []*os.File) error {
	bin := p.FuseBin
	if bin == "" {
		return fmt.Errorf("fuse-overlayfs is not installed: apt-get install fuse-overlayfs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), fuseTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-o", overlayOptions(p, upper, work, false), target)
	cmd.ExtraFiles = files
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if msg := bytes.TrimSpace(stderr.Bytes()); len(msg) > 0 {
			return fmt.Errorf("mounting fuse-overlayfs: %v: %s", err, msg)
		}
		return fmt.Errorf("running %s: %v", bin, err)
	}
	return nil
}
