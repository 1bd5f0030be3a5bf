package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Names are files ROOT/names/NAME created with O_EXCL under
// ROOT/names.lock, so two commands can never take one name. The file
// holds "ID PID START": the container and the process that reserved the
// name. Until that container has state, the reservation is as alive as
// that process (it writes the state after reserving); from then on the
// container's state decides. A name whose container no longer exists,
// or was left unfinished by a kill (State.Unfinished), is free again.

func namesLock(root string) (func(), error) {
	if err := os.MkdirAll(filepath.Join(root, "names"), 0o700); err != nil {
		return nil, err
	}
	return FlockPath(filepath.Join(root, "names.lock"))
}

// FlockPath takes an exclusive flock on path, creating it; the returned
// func releases it.
func FlockPath(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// reservation is the content of a name file.
type reservation struct {
	id    string
	pid   int
	start uint64
}

func readReservation(p string) (reservation, error) {
	// Only a regular file is a reservation: opening anything else found
	// there (a FIFO would block the open) is refused, not waited on.
	f0, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return reservation{}, err
	}
	defer f0.Close()
	if fi, err := f0.Stat(); err != nil {
		return reservation{}, err
	} else if !fi.Mode().IsRegular() {
		return reservation{}, fmt.Errorf("%s is not a name reservation (%s)", p, fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f0, 4096))
	if err != nil {
		return reservation{}, err
	}
	f := strings.Fields(string(b))
	var r reservation
	if len(f) > 0 {
		r.id = f[0]
	}
	if len(f) == 3 {
		r.pid, _ = strconv.Atoi(f[1])
		r.start, _ = strconv.ParseUint(f[2], 10, 64)
	}
	return r, nil
}

// held: the reservation's container exists (and is not unfinished), or
// it has no state yet and the reserving process still runs.
func (r reservation) held(root string) bool {
	if ValidID(r.id) != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join(Dir(root, r.id), "state.json"))
	if err == nil {
		var s State
		if json.Unmarshal(b, &s) != nil {
			return true // corrupt, but there: 'urun rm' frees it
		}
		return !s.Unfinished()
	}
	return r.pid > 0 && ProcessAlive(r.pid, r.start)
}

// NameOwner is the container holding name, or "" when it is free.
func NameOwner(root, name string) string {
	r, err := readReservation(filepath.Join(root, "names", name))
	if err != nil || !r.held(root) {
		return ""
	}
	return r.id
}

// ReserveName gives name to container id for this process, or says who
// has it.
func ReserveName(root, name, id string) error {
	unlock, err := namesLock(root)
	if err != nil {
		return fmt.Errorf("reserving name %s: %w", name, err)
	}
	defer unlock()
	p := filepath.Join(root, "names", name)
	if r, err := readReservation(p); err == nil {
		if r.id == id {
			return nil
		}
		if r.held(root) {
			return fmt.Errorf("the name %q is in use by container %.12s: remove it ('urun rm %s') or choose another name", name, r.id, name)
		}
		os.Remove(p) // stale
	}
	start, err := ProcessStart(os.Getpid())
	if err != nil {
		return fmt.Errorf("reserving name %s: %w", name, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("the name %q is in use: choose another name", name)
		}
		return fmt.Errorf("reserving name %s: %w", name, err)
	}
	_, err = fmt.Fprintf(f, "%s %d %d", id, os.Getpid(), start)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("reserving name %s: %w", name, err)
	}
	return nil
}

// ReleaseName frees name if container id holds it.
func ReleaseName(root, name, id string) {
	unlock, err := namesLock(root)
	if err != nil {
		return
	}
	defer unlock()
	p := filepath.Join(root, "names", name)
	if r, err := readReservation(p); err == nil && r.id == id {
		os.Remove(p)
	}
}

// SweepNames removes the reservations nothing holds any more: when
// always, or when root has more names than its dirs container
// directories. A container with a settled mark holds its name.
func SweepNames(root string, settled map[string]bool, always bool, dirs int) {
	f, err := os.Open(filepath.Join(root, "names"))
	if err != nil {
		return
	}
	ents, _ := f.Readdirnames(-1)
	f.Close()
	if len(ents) == 0 || !always && len(ents) <= dirs {
		return
	}
	var stale []string
	for _, e := range ents {
		if r, err := readReservation(filepath.Join(root, "names", e)); err == nil && !settled[r.id] && !r.held(root) {
			stale = append(stale, e)
		}
	}
	if len(stale) == 0 {
		return
	}
	unlock, err := namesLock(root)
	if err != nil {
		return
	}
	defer unlock()
	for _, n := range stale {
		p := filepath.Join(root, "names", n)
		if r, err := readReservation(p); err == nil && !r.held(root) {
			os.Remove(p)
		}
	}
}
