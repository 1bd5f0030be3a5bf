package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// RuntimeDir is where per-run state lives: $XDG_RUNTIME_DIR/urun when that
// directory is ours and private; else, as podman does, /run/user/UID/urun
// when the login's runtime directory exists, is ours and 0700 (after `su`,
// or in CI shells, XDG_RUNTIME_DIR is unset or still names another user's
// directory, while containers started from the login shell are there);
// else /tmp/urun-UID, which we create and check ourselves, saying so once
// (when it is created): containers there are not seen from a login shell.
func RuntimeDir() (string, error) {
	env := os.Getenv("XDG_RUNTIME_DIR")
	if env != "" && ownedPrivateDir(env) {
		return ensureDir(filepath.Join(env, "urun"))
	}
	uid := strconv.Itoa(os.Getuid())
	if login := filepath.Join("/run/user", uid); ownedPrivateDir(login) {
		return ensureDir(filepath.Join(login, "urun"))
	}
	d := filepath.Join(os.TempDir(), "urun-"+uid)
	err := os.Mkdir(d, 0o700)
	if err != nil && !os.IsExist(err) {
		return "", fmt.Errorf("creating runtime directory %s: %w", d, err)
	}
	if !ownedPrivateDir(d) {
		return "", fmt.Errorf("runtime directory %s is not a private directory owned by uid %d: remove it, or set XDG_RUNTIME_DIR to a directory of yours with mode 0700", d, os.Getuid())
	}
	if err == nil {
		why := "XDG_RUNTIME_DIR is unset"
		if env != "" {
			why = "XDG_RUNTIME_DIR=" + env + " is not a private directory of yours"
		}
		fmt.Fprintf(os.Stderr, "urun: note: %s and /run/user/%s does not exist: container state goes to %s, where a shell with XDG_RUNTIME_DIR set does not see it ('urun doctor' says how to fix this)\n", why, uid, d)
	}
	return d, nil
}

// DataDir holds the image store, unpacked images and kept containers'
// writable layers: --data-dir ($URUN_DATA_DIR), else $XDG_DATA_HOME/urun
// or ~/.local/share/urun.
func DataDir() (string, error) {
	d, err := DataDirPath()
	if err != nil {
		return "", err
	}
	// A read-only home (a live system, a locked-down lab machine) fails
	// later with "pinning image ...: read-only file system" and no fix.
	if err := os.MkdirAll(d, 0o700); errors.Is(err, unix.EROFS) || err == nil && unix.Access(d, unix.W_OK) == unix.EROFS {
		return "", &ReadOnlyDataError{dir: d}
	} else if err != nil {
		return "", fmt.Errorf("creating %s: %w", d, err)
	}
	return d, nil
}

// ReadOnlyDataError: the data directory is on a read-only filesystem.
type ReadOnlyDataError struct{ dir string }

func (e *ReadOnlyDataError) Error() string {
	return "storage: " + e.Cause() + " — fix: " + ReadOnlyDataFix
}

// Cause says which directory is read-only.
func (e *ReadOnlyDataError) Cause() string {
	return e.dir + " is on a read-only filesystem"
}

// ReadOnlyDataFix is the fix run and doctor print for it.
const ReadOnlyDataFix = "export URUN_DATA_DIR=/a/writable/dir (or urun --data-dir)"

// DataDirEnv names the variable that moves urun's data directory (set
// by the global --data-dir flag, so that the helpers and supervisors urun
// starts find the same one).
const DataDirEnv = "URUN_DATA_DIR"

// DataDirPath is DataDir without creating it.
func DataDirPath() (string, error) {
	if d := os.Getenv(DataDirEnv); d != "" {
		if !filepath.IsAbs(d) {
			return "", fmt.Errorf("%s=%q: give an absolute path", DataDirEnv, d)
		}
		return filepath.Clean(d), nil
	}
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the data directory: neither XDG_DATA_HOME nor HOME is set")
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "urun"), nil
}

func ensureDir(d string) (string, error) {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", d, err)
	}
	return d, nil
}

// ownedPrivateDir: a real directory (not a symlink), ours, mode 0700.
func ownedPrivateDir(d string) bool {
	var st unix.Stat_t
	if err := unix.Lstat(d, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == os.Getuid() && st.Mode&0o077 == 0
}

// StateRoot is the state root: flagRoot (the global --root), else
// $XDG_RUNTIME_DIR/urun (or the private fallback) when rootless,
// /run/urun for real root. Whatever urun killed at any moment left
// there is swept first (sweep.go).
func StateRoot(flagRoot string) (string, error) {
	root, err := UnsweptStateRoot(flagRoot)
	if err != nil {
		return "", err
	}
	Tidy(root)
	return root, nil
}

// UnsweptStateRoot is StateRoot without the sweep, for a command that
// does it later with Tidy (a run, once its init is cloned): the errors
// are StateRoot's, at the same point.
func UnsweptStateRoot(flagRoot string) (string, error) {
	if flagRoot != "" {
		root, err := filepath.Abs(flagRoot)
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(root, 0o700); err != nil {
			return "", fmt.Errorf("creating --root %s: %w", root, err)
		}
		return root, nil
	}
	if os.Getuid() == 0 && !InUserNamespace() {
		return ensureDir("/run/urun")
	}
	return RuntimeDir()
}

// Tidy is StateRoot's sweep of root (sweep.go) and the restore of
// kept containers' records a reboot left without state (record.go),
// once per process and root.
func Tidy(root string) { sweepOnce(root) }

// sweptRoots are the state roots this process has swept: a command that
// asks for its state root twice (run: the joins, then the run) sweeps
// once.
var sweptRoots sync.Map

func sweepOnce(root string) {
	if _, done := sweptRoots.LoadOrStore(root, true); !done {
		Sweep(root)
		restoreOnce(root)
	}
}

// InUserNamespace: this process is not in the initial user namespace.
func InUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}
