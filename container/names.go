package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Names are files ROOT/names/NAME holding the container id, created with
// O_EXCL under ROOT/names.lock, so two commands can never take one name.
// A name whose container no longer exists (a crash, a wiped runtime
// directory) is free again.

func namesLock(root string) (func(), error) {
	if err := os.MkdirAll(filepath.Join(root, "names"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(root, "names.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// ReserveName gives name to container id, or says who has it.
func ReserveName(root, name, id string) error {
	unlock, err := namesLock(root)
	if err != nil {
		return fmt.Errorf("reserving name %s: %w", name, err)
	}
	defer unlock()
	p := filepath.Join(root, "names", name)
	if b, err := os.ReadFile(p); err == nil {
		owner := strings.TrimSpace(string(b))
		if owner == id {
			return nil
		}
		if _, err := os.Stat(filepath.Join(Dir(root, owner), "state.json")); err == nil {
			return fmt.Errorf("the name %q is in use by container %.12s: remove it ('urun rm %s') or choose another name", name, owner, name)
		}
		os.Remove(p) // stale
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("the name %q is in use: choose another name", name)
		}
		return fmt.Errorf("reserving name %s: %w", name, err)
	}
	defer f.Close()
	_, err = f.WriteString(id)
	return err
}

// ReleaseName frees name if container id holds it.
func ReleaseName(root, name, id string) {
	unlock, err := namesLock(root)
	if err != nil {
		return
	}
	defer unlock()
	p := filepath.Join(root, "names", name)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == id {
		os.Remove(p)
	}
}
