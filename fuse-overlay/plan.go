// Package fuseoverlay builds a container's root filesystem from read-only
// image layers: kernel overlayfs inside the user namespace where the kernel
// allows it, fuse-overlayfs where it does not, a private in-memory copy
// where neither mounts, a plain bind of a directory for OCI bundles.
// Plans are data made by the parent; the mount itself runs in the
// container's namespaces (mount_child.go).
//
// The folder is fuse-overlay/ (the name the design gave it) while Go's
// rule wants the package named as its folder: a package name cannot hold
// a dash, so it is fuseoverlay, and importers need no alias.
package fuseoverlay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tier is a way to mount the root filesystem.
type Tier string

// The tiers, in the order urun tries them.
const (
	// Auto tries Native, then Fuse, then Copy, in the container, at no
	// cost when Native works (the common case on Linux ≥ 5.11).
	Auto Tier = "auto"
	// Native is kernel overlayfs mounted in the user namespace (Linux ≥ 5.11,
	// with the userxattr option).
	Native Tier = "native"
	// Fuse is fuse-overlayfs, a user-space overlay, where native fails.
	Fuse Tier = "fuse"
	// Copy copies the image into a tmpfs private to the container's mount
	// namespace, where neither overlay mounts: costs the image's size in
	// memory and the copy's time at every start.
	Copy Tier = "copy"
	// Bind uses one directory as the root as it is (an OCI bundle's rootfs);
	// writes go to that directory, as with runc.
	Bind Tier = "bind"
)

// autoOrder is the order Auto tries the tiers in.
var autoOrder = []Tier{Native, Fuse, Copy}

// TierEnv names the environment variable that sets the default of
// --rootfs-tier.
const TierEnv = "URUN_TIER"

// FuseEnv names the environment variable that names the fuse-overlayfs
// program (default: fuse-overlayfs in $PATH); a path that does not exist
// makes the fuse tier unavailable.
const FuseEnv = "URUN_FUSE_OVERLAYFS"

// DefaultTier is $URUN_TIER, or auto.
func DefaultTier() string {
	if t := os.Getenv(TierEnv); t != "" {
		return t
	}
	return string(Auto)
}

// FuseBinary is the fuse-overlayfs program to run: $URUN_FUSE_OVERLAYFS, or
// fuse-overlayfs found in $PATH ("" when there is none).
func FuseBinary() string {
	if b := os.Getenv(FuseEnv); b != "" {
		return b
	}
	b, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return ""
	}
	if abs, err := filepath.Abs(b); err == nil {
		b = abs
	}
	return b
}

// ParseTier accepts a tier name as given to --rootfs-tier or URUN_TIER.
func ParseTier(s string) (Tier, error) {
	switch t := Tier(s); t {
	case Auto, Native, Fuse, Copy, Bind:
		return t, nil
	}
	return "", fmt.Errorf("unknown rootfs tier %q (want auto, native, fuse, copy or bind; from --rootfs-tier or $%s)", s, TierEnv)
}

// Plan describes one root filesystem mount.
type Plan struct {
	Tier Tier `json:"tier"`
	// Lower lists the read-only layer directories, topmost first.
	Lower []string `json:"lower"`
	// Upper and Work hold the container's writes. Empty: a tmpfs private to
	// the container's mount namespace, gone when the container ends.
	Upper string `json:"upper,omitempty"`
	Work  string `json:"work,omitempty"`
	// UIDMapping and GIDMapping are fuse-overlayfs' uidmapping=/gidmapping=
	// values, needed only when the layers are stored with host ids.
	UIDMapping string `json:"uidMapping,omitempty"`
	GIDMapping string `json:"gidMapping,omitempty"`
	// FuseBin is the fuse-overlayfs program, resolved by the parent (see
	// FuseBinary); empty: the fuse tier is unavailable.
	FuseBin string `json:"fuseBin,omitempty"`
	// Volatile: the writable layer is thrown away when the container
	// ends (--rm), so the kernel overlay is mounted with "volatile" and
	// never syncs its upper directory. Without it, the unmount at the
	// container's exit syncs the whole filesystem the upper lives on
	// (overlayfs' sync_fs calls sync_filesystem on it), and the exit
	// waits for every dirty page of every other program there to be
	// written (docs/BENCHMARKS.md). podman mounts --rm containers so too.
	Volatile bool `json:"volatile,omitempty"`
	// Why says why this tier was chosen, for urun info and debug output.
	Why string `json:"why,omitempty"`
	// Start, with tier auto, is where auto begins: the storage probe's
	// answer (TierRecord), so a host where native cannot work does not
	// try it at every start. Auto still falls through to the next tiers.
	Start Tier `json:"start,omitempty"`
}

// Validate checks a plan before it crosses into the container.
func (p Plan) Validate() error {
	if len(p.Lower) == 0 {
		return errors.New("rootfs plan has no layer directory")
	}
	if p.Tier == Bind && len(p.Lower) != 1 {
		return fmt.Errorf("a %s rootfs takes one directory, got %d", p.Tier, len(p.Lower))
	}
	if _, err := ParseTier(string(p.Tier)); err != nil {
		return err
	}
	for _, l := range p.Lower {
		// overlayfs splits lowerdir= on ':' and options on ','; such a
		// path cannot be passed safely.
		if strings.ContainsAny(l, ":,") || !strings.HasPrefix(l, "/") {
			return fmt.Errorf("layer directory %q must be an absolute path without ':' or ','", l)
		}
	}
	if (p.Upper == "") != (p.Work == "") {
		return errors.New("rootfs plan needs both upper and work directories, or neither")
	}
	return nil
}

// overlayOptions is the option string for both overlay implementations.
// p.Volatile adds "volatile" for the kernel's (fuse-overlayfs does not
// sync the upper filesystem at unmount anyway).
func overlayOptions(p Plan, upper, work string, native bool) string {
	opts := []string{
		"lowerdir=" + strings.Join(p.Lower, ":"),
		"upperdir=" + upper,
		"workdir=" + work,
	}
	if native {
		// userxattr: an unprivileged overlay keeps whiteouts and opaque
		// markers in user.overlay.* (trusted.* needs real root).
		opts = append(opts, "userxattr")
		if p.Volatile {
			opts = append(opts, "volatile")
		}
	} else {
		if p.UIDMapping != "" {
			opts = append(opts, "uidmapping="+p.UIDMapping)
		}
		if p.GIDMapping != "" {
			opts = append(opts, "gidmapping="+p.GIDMapping)
		}
	}
	return strings.Join(opts, ",")
}
