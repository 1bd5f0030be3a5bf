package userns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/urun-dev/urun/hostbin"
	"github.com/urun-dev/urun/idmap"
)

// Maps is the id mapping chosen for one container or storage operation.
type Maps struct {
	UID, GID idmap.Mapping
	// UseHelpers says the maps need newuidmap/newgidmap.
	UseHelpers bool
	// Mode is the mode actually used (after any fallback).
	Mode idmap.Mode
	// Warning is set when urun fell back to a single-id map; it names the
	// cause and the fix, and the caller prints it once.
	Warning string
	// Source says where the subordinate ranges came from.
	Source idmap.Source
}

// DoctorHint ends every message about host set-up: `urun doctor` checks
// the whole host and prints the same fixes.
const DoctorHint = " (run `urun doctor` for details)"

// ResolveMaps computes the maps for mode for the calling user. When the
// subordinate ids or the helpers are missing it falls back to a single-id
// map with a warning, unless the mode was requested explicitly, in which
// case that is an error with the fix.
func ResolveMaps(mode idmap.Mode, explicit bool) (Maps, error) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	single := Maps{
		UID:  idmap.Mapping{{ContainerID: 0, HostID: uid, Size: 1}},
		GID:  idmap.Mapping{{ContainerID: 0, HostID: gid, Size: 1}},
		Mode: idmap.ModeHostSingle,
	}
	if mode == idmap.ModeHostSingle {
		return single, nil
	}
	name := strconv.Itoa(int(uid))
	if u, err := LookupUID(int(uid)); err == nil {
		name = u.Username
	}
	var m Maps
	cause, fix, err := resolveMulti(mode, name, uid, gid, &m)
	switch {
	case err == nil:
		return m, nil
	case cause == "":
		return Maps{}, fmt.Errorf("--userns=%s: %w", mode, err)
	case explicit:
		return Maps{}, fmt.Errorf("--userns=%s: %s; fix: %s%s", mode, cause, fix, DoctorHint)
	}
	single.Warning = fmt.Sprintf("%s: running with a single-id user namespace (only root inside is mapped; files owned by other ids cannot be created); fix: %s%s", cause, fix, DoctorHint)
	return single, nil
}

// resolveMulti fills m for a mode that needs subordinate ids. On failure
// it returns a cause and fix when falling back is reasonable.
func resolveMulti(mode idmap.Mode, name string, uid, gid uint32, m *Maps) (cause, fix string, err error) {
	for _, h := range []string{"newuidmap", "newgidmap"} {
		path, err := exec.LookPath(h)
		if err != nil {
			cause, fix := hostbin.NotFound(h, "uidmap")
			return cause, fix, err
		}
		// A helper that cannot act for us would fail on every start;
		// falling back now lets the container run. The words are
		// doctor's (hostbin).
		if !privileged(path) {
			cause, fix := hostbin.Unprivileged(h, path)
			return cause, fix, errors.New(h + " cannot map ids")
		}
	}
	uranges, src, err := idmap.LookupSubIDs(name, uid, false)
	if err != nil {
		return "", "", err
	}
	granges, _, err := idmap.LookupSubIDs(name, uid, true)
	if err != nil {
		return "", "", err
	}
	m.UID, err = idmap.Build(mode, uid, uranges)
	if errors.Is(err, idmap.ErrNoSubIDs) {
		return fmt.Sprintf("%s has no entry for %s", idmap.SubUIDFile, name), idmap.AddSubIDsFix(name), err
	}
	if err != nil {
		return "", "", err
	}
	m.GID, err = idmap.Build(mode, gid, granges)
	if errors.Is(err, idmap.ErrNoSubIDs) {
		return fmt.Sprintf("%s has no entry for %s", idmap.SubGIDFile, name), idmap.AddSubIDsFix(name), err
	}
	if err != nil {
		return "", "", err
	}
	m.UseHelpers, m.Mode, m.Source = true, mode, src
	return "", "", nil
}
