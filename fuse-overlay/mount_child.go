package fuseoverlay

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// fuseTimeout bounds the fuse-overlayfs start; it forks into the
// background once the mount is up.
const fuseTimeout = 10 * time.Second

// MountRootfs mounts the root filesystem described by p at target.
//
// Preconditions: runs in the container's user and mount namespaces, as
// root there, with mount propagation already private.
func MountRootfs(p Plan, target string) (Tier, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if p.Tier != Auto {
		return p.Tier, mountTier(p, target)
	}
	p.Tier = Native
	nerr := mountTier(p, target)
	if nerr == nil {
		return Native, nil
	}
	// The kernel refused overlayfs in this user namespace (an old kernel,
	// or a lower filesystem it will not stack on): user space can.
	p.Tier = Fuse
	if ferr := mountTier(p, target); ferr != nil {
		return "", fmt.Errorf("mounting the root filesystem: %v; and with fuse-overlayfs: %v", nerr, ferr)
	}
	return Fuse, nil
}

func mountTier(p Plan, target string) error {
	if p.Tier == Bind {
		if err := unix.Mount(p.Lower[0], target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mounting rootfs %s: %w", p.Lower[0], err)
		}
		return nil
	}
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
	return mountOverlay(p, upper, work, target)
}

func mountOverlay(p Plan, upper, work, target string) error {
	switch p.Tier {
	case Native:
		// The kernel shows overlay options in /proc/mounts as given; pass
		// the directories as descriptors so the container sees no host
		// paths in `mount`.
		var files []*os.File
		defer func() {
			for _, f := range files {
				f.Close()
			}
		}()
		hide := func(dir string) (string, error) {
			f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return "", fmt.Errorf("opening overlay directory: %w", err)
			}
			files = append(files, f)
			return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())), nil
		}
		hp := p
		hp.Lower = make([]string, len(p.Lower))
		for i, l := range p.Lower {
			var err error
			if hp.Lower[i], err = hide(l); err != nil {
				return err
			}
		}
		hu, err := hide(upper)
		if err != nil {
			return err
		}
		hw, err := hide(work)
		if err != nil {
			return err
		}
		if err := unix.Mount("overlay", target, "overlay", 0, overlayOptions(hp, hu, hw, true)); err != nil {
			return fmt.Errorf("mounting kernel overlayfs (tier native): %w; try --rootfs-tier fuse", err)
		}
		return nil
	case Fuse:
		return mountFuse(p, upper, work, target)
	}
	return fmt.Errorf("unknown rootfs tier %q", p.Tier)
}

func mountFuse(p Plan, upper, work, target string) error {
	bin, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return fmt.Errorf("fuse-overlayfs is not installed: apt-get install fuse-overlayfs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), fuseTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-o", overlayOptions(p, upper, work, false), target)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mounting fuse-overlayfs: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
