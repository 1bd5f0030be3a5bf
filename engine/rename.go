package engine

import (
	"errors"
	"fmt"

	"github.com/urun-dev/urun/container"
)

// Rename gives container ref the name name, as podman's rename: running
// or not. The new name is reserved first, by the rule every name is
// taken by (container/names.go: one container per name, a stale
// reservation is free), so a name in use is refused before anything
// changes; then the state and the record (which a start after a reboot
// registers the name from) are rewritten under the container's lock,
// and the old name is released last. Renaming to the current name does
// nothing, as podman's.
func Rename(root, ref, name string) error {
	if err := container.ValidID(name); err != nil {
		return fmt.Errorf("rename: the new name: %w", err)
	}
	id, err := Resolve(root, ref)
	if err != nil {
		return err
	}
	st, unlock, err := container.LoadLocked(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	old := st.Name
	if old == name {
		return nil
	}
	reclaimName(root, name)
	if err := container.ReserveName(root, name, id); err != nil {
		return err
	}
	var rec *Record
	if st.Record != "" {
		if rec, err = LoadRecord(st.Record); err != nil && !errors.Is(err, errNoRecord) {
			container.ReleaseName(root, name, id)
			return err
		}
	}
	st.Name = name
	if err := st.Save(root); err != nil {
		container.ReleaseName(root, name, id)
		return err
	}
	if rec != nil {
		rec.Name = name
		if err := rec.save(); err != nil {
			st.Name = old
			st.Save(root)
			container.ReleaseName(root, name, id)
			return err
		}
	}
	if old != "" {
		container.ReleaseName(root, old, id)
	}
	RecordEvent(root, id, name, st.Image, EventRename, map[string]string{"oldName": old})
	return nil
}
