package container

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execUser is the identity a USER[:GROUP] string resolves to in an image.
type execUser struct {
	UID, GID       uint32
	AdditionalGids []uint32
	// Home is the passwd entry's home directory; empty when the user is
	// not in the image's /etc/passwd.
	Home string
}

// maxID is the largest uid or gid accepted, as runc: the kernel's uid_t is
// 32 bits but (uid_t)-1 means "no change", and tools disagree above 2^31.
const maxID = math.MaxInt32

// passwdEntry and groupEntry are the fields of /etc/passwd and /etc/group
// that matter here.
type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// resolveUser resolves USER[:GROUP] against the image's /etc/passwd and
// /etc/group with docker's (runc's) rules: an empty user is root; a name
// must exist, a number need not (an unknown uid gets gid 0); a user found
// in /etc/passwd gets its primary gid and home, and, when no group was
// given, the groups that list it as a member as additional groups.
func resolveUser(spec string, readFile ReadFile) (execUser, error) {
	userArg, groupArg, hasGroup := strings.Cut(spec, ":")
	if hasGroup && (groupArg == "" || strings.Contains(groupArg, ":")) {
		return execUser{}, fmt.Errorf("invalid user %q: want USER[:GROUP], by name or number", spec)
	}
	if userArg == "" {
		userArg = "0"
	}
	uid, uidNumeric, err := parseID(userArg)
	if err != nil {
		return execUser{}, fmt.Errorf("invalid user %q: %w", spec, err)
	}
	users, err := readPasswd(readFile)
	if err != nil {
		return execUser{}, err
	}
	i := slices.IndexFunc(users, func(u passwdEntry) bool {
		return u.name == userArg || (uidNumeric && u.uid == uid)
	})
	if i < 0 && !uidNumeric {
		return execUser{}, fmt.Errorf("user %q not found in the image's /etc/passwd (give a numeric uid, or a name listed there)", userArg)
	}
	u := execUser{UID: uid}
	if i >= 0 {
		u.UID, u.GID, u.Home = users[i].uid, users[i].gid, users[i].home
	}
	if !hasGroup && i < 0 {
		return u, nil
	}
	groups, err := readGroup(readFile)
	if err != nil {
		return execUser{}, err
	}
	if hasGroup {
		// An explicit group replaces the primary group, and supplementary
		// groups are not looked up: runc and docker do the same.
		gid, gidNumeric, err := parseID(groupArg)
		if err != nil {
			return execUser{}, fmt.Errorf("invalid group in user %q: %w", spec, err)
		}
		j := slices.IndexFunc(groups, func(g groupEntry) bool {
			return g.name == groupArg || (gidNumeric && g.gid == gid)
		})
		switch {
		case j >= 0:
			u.GID = groups[j].gid
		case gidNumeric:
			u.GID = gid
		default:
			return execUser{}, fmt.Errorf("group %q not found in the image's /etc/group (give a numeric gid, or a name listed there)", groupArg)
		}
		return u, nil
	}
	for _, g := range groups {
		if slices.Contains(g.members, users[i].name) && !slices.Contains(u.AdditionalGids, g.gid) {
			u.AdditionalGids = append(u.AdditionalGids, g.gid)
		}
	}
	return u, nil
}

// parseID reads a decimal id; numeric is false for anything that is not
// all digits, which is then a name.
func parseID(s string) (id uint32, numeric bool, err error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, true, fmt.Errorf("id %s is out of range (want 0-%d)", s, maxID)
	}
	return uint32(n), true, nil
}

// fileID reads an id field of /etc/passwd or /etc/group.
func fileID(s string) (uint32, bool) {
	id, numeric, err := parseID(s)
	return id, numeric && err == nil
}

// readImageFile reads one of the image's account files; a missing file
// is empty, as for docker (scratch images have none).
func readImageFile(readFile ReadFile, name string) ([]byte, error) {
	if readFile == nil {
		return nil, nil
	}
	b, err := readFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the image's %s: %w", name, err)
	}
	return b, nil
}

// accountLines yields the colon-split fields of each entry of a passwd or
// group file, skipping blank lines, comments and NIS "+"/"-" entries.
func accountLines(b []byte) [][]string {
	var out [][]string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.ContainsAny(line[:1], "#+-") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

// readPasswd parses /etc/passwd (name:password:uid:gid:gecos:home:shell).
// Malformed entries are skipped, as libc does, rather than failing a run.
func readPasswd(readFile ReadFile) ([]passwdEntry, error) {
	b, err := readImageFile(readFile, "/etc/passwd")
	if err != nil {
		return nil, err
	}
	var users []passwdEntry
	for _, f := range accountLines(b) {
		if len(f) < 4 {
			continue
		}
		uid, uok := fileID(f[2])
		gid, gok := fileID(f[3])
		if !uok || !gok || f[0] == "" {
			continue
		}
		u := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			u.home = f[5]
		}
		users = append(users, u)
	}
	return users, nil
}

// readGroup parses /etc/group (name:password:gid:member,member).
func readGroup(readFile ReadFile) ([]groupEntry, error) {
	b, err := readImageFile(readFile, "/etc/group")
	if err != nil {
		return nil, err
	}
	var groups []groupEntry
	for _, f := range accountLines(b) {
		if len(f) < 3 {
			continue
		}
		gid, ok := fileID(f[2])
		if !ok || f[0] == "" {
			continue
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 {
			for m := range strings.SplitSeq(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					g.members = append(g.members, m)
				}
			}
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// ResolveUser resolves USER[:GROUP] against a container's /etc/passwd and
// /etc/group (read through readFile) into the spec's user, for exec.
func ResolveUser(spec string, readFile ReadFile) (specs.User, error) {
	u, err := resolveUser(spec, readFile)
	if err != nil {
		return specs.User{}, err
	}
	return specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}, nil
}
