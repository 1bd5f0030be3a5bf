package idmap

import (
	"fmt"
	"os"
	"strings"
)

// FreeCount is the size of the range urun suggests adding: 65536 ids, as
// useradd gives each user.
const FreeCount = 65536

// FreeStart is where a new range of FreeCount ids can start without
// overlapping any range in the given subordinate id entries (every
// user's, uids and gids alike): above the highest one, on useradd's grid
// (SUB_UID_MIN 100000, then steps of 65536: 165536, 231072, ...).
// ok is false when no such range fits below 2^32.
func FreeStart(entries ...[]Entry) (start uint32, ok bool) {
	top := uint64(100000)
	for _, es := range entries {
		for _, e := range es {
			top = max(top, uint64(e.Start)+uint64(e.Count))
		}
	}
	top = 100000 + (top-100000+FreeCount-1)/FreeCount*FreeCount
	if top+FreeCount > 1<<32-1 {
		return 0, false
	}
	return uint32(top), true
}

// AddSubIDsFix is the command that gives name a range no other user
// holds, computed from SubUIDFile and SubGIDFile.
func AddSubIDsFix(name string) string {
	var all [][]Entry
	for _, file := range []string{SubUIDFile, SubGIDFile} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		es, err := ParseSubIDs(f, file)
		f.Close()
		if err != nil {
			// A broken line hides what it would have held.
			return fmt.Sprintf("fix %s first (%v), then give %s a range no other user has: sudo usermod --add-subuids START-END --add-subgids START-END %s", file, err, name, name)
		}
		all = append(all, es)
	}
	start, ok := FreeStart(all...)
	if !ok {
		return fmt.Sprintf("give %s %d ids not yet in %s or %s: sudo usermod --add-subuids START-END --add-subgids START-END %s", name, FreeCount, SubUIDFile, SubGIDFile, name)
	}
	r := fmt.Sprintf("%d-%d", start, start+FreeCount-1)
	return strings.Join([]string{"sudo usermod --add-subuids", r, "--add-subgids", r, name,
		"(a range above every one in " + SubUIDFile + " and " + SubGIDFile + ")"}, " ")
}
