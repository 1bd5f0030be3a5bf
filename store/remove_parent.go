package store

import (
	"fmt"
	"os"

	"github.com/urun-dev/urun/userns"
)

// RemoveTree deletes dir, whose files may be owned by subordinate ids (a
// container's writable layer), from inside a user namespace with maps: an
// ordinary user cannot remove them from outside. helperExe is urun, which
// runs UnpackMain for the hidden UnpackCommand. A missing dir is no error.
func RemoveTree(dir string, maps userns.Maps, helperExe string) error {
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	if err := runUnpack(UnpackRequest{Dir: dir, Remove: true}, maps, helperExe); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}
