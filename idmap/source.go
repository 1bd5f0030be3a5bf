package idmap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// SubUIDFile is the subordinate uid file; a variable so tests can point it at a temporary file.
var SubUIDFile = "/etc/subuid"

// SubGIDFile is the subordinate gid file; a variable so tests can point it at a temporary file.
var SubGIDFile = "/etc/subgid"

// NSSwitchFile is where shadow's libsubid finds its "subid:" service; a
// variable so tests can point it at a temporary file.
var NSSwitchFile = "/etc/nsswitch.conf"

// getsubidsTimeout bounds getsubids, which may wait on LDAP/SSSD.
const getsubidsTimeout = 5 * time.Second

// Source says where the ranges came from, for `urun info`.
type Source struct {
	// Kind is "file", "getsubids" or "none" (the file does not exist).
	Kind string
	// Path is the file read or looked for, or the getsubids program run.
	Path string
}

// LookupSubIDs returns the user's subordinate uid ranges (gid false) or gid ranges (gid true), asking getsubids first so LDAP/SSSD users are covered.
// getsubids runs only when nsswitch.conf names a subid service other than
// files: without one, libsubid (and so newuidmap) reads the files too, and
// the two getsubids runs cost 7-10 ms of every container start.
func LookupSubIDs(userName string, uid uint32, gid bool) ([]SubIDRange, Source, error) {
	if subidService() != "" {
		if ranges, path, ok := runGetsubids(userName, uid, gid); ok {
			return ranges, Source{Kind: "getsubids", Path: path}, nil
		}
	}
	file := SubUIDFile
	if gid {
		file = SubGIDFile
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Source{Kind: "none", Path: file}, nil
	}
	if err != nil {
		return nil, Source{}, fmt.Errorf("reading subordinate ids: %w", err)
	}
	defer f.Close()
	entries, err := ParseSubIDs(f, file)
	if err != nil {
		return nil, Source{}, fmt.Errorf("reading subordinate ids: %w", err)
	}
	return RangesFor(entries, userName, uid), Source{Kind: "file", Path: file}, nil
}

// subidService returns the service nsswitch.conf's "subid:" line names, as
// shadow's libsubid reads it (one service; "files" or no line means the
// subuid/subgid files), or "" for the files.
func subidService() string {
	data, err := os.ReadFile(NSSwitchFile)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "subid:")
		if !ok {
			continue
		}
		if f := strings.Fields(rest); len(f) > 0 && f[0] != "files" {
			return f[0]
		}
		return ""
	}
	return ""
}

// runGetsubids runs shadow's getsubids and reports ok only when it exits 0
// with well-formed ranges; anything else (not installed, no NSS module, no
// entry, hung) falls back to the file, which is what newuidmap reads
// when no NSS module is configured.
func runGetsubids(userName string, uid uint32, gid bool) (ranges []SubIDRange, path string, ok bool) {
	path, err := exec.LookPath("getsubids")
	if err != nil {
		return nil, "", false
	}
	owner := userName
	if owner == "" {
		owner = strconv.FormatUint(uint64(uid), 10)
	}
	args := []string{owner}
	if gid {
		args = []string{"-g", owner}
	}
	ctx, cancel := context.WithTimeout(context.Background(), getsubidsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// A child that keeps stdout open must not hold us past the timeout.
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return nil, "", false
	}
	ranges, err = ParseGetsubids(string(out))
	if err != nil || len(ranges) == 0 {
		return nil, "", false
	}
	return ranges, path, true
}
