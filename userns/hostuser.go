package userns

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
)

// urun is built without cgo (a static binary starts faster: no dynamic
// loader, no libc), so os/user reads /etc/passwd and /etc/group only. A
// user or group from NSS (LDAP, SSSD, systemd-homed) is not there; for
// those these lookups ask getent, which goes through NSS as libc would.
// Only such a user pays for the extra exec.

// LookupUID is user.LookupId with the NSS fallback.
func LookupUID(uid int) (*user.User, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	var unknown user.UnknownUserIdError
	if err == nil || !errors.As(err, &unknown) {
		return u, err
	}
	f, gerr := getent("passwd", uid)
	if gerr != nil || len(f) < 6 {
		return nil, err
	}
	// name:password:uid:gid:gecos:home[:shell]
	gecos, _, _ := strings.Cut(f[4], ",")
	return &user.User{Username: f[0], Uid: f[2], Gid: f[3], Name: gecos, HomeDir: f[5]}, nil
}

// LookupGID is user.LookupGroupId with the NSS fallback.
func LookupGID(gid int) (*user.Group, error) {
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	var unknown user.UnknownGroupIdError
	if err == nil || !errors.As(err, &unknown) {
		return g, err
	}
	f, gerr := getent("group", gid)
	if gerr != nil || len(f) < 3 {
		return nil, err
	}
	return &user.Group{Name: f[0], Gid: f[2]}, nil
}

// CurrentUser is user.Current with the NSS fallback (os/user's own
// fallback without cgo would trust $USER and $HOME).
func CurrentUser() (*user.User, error) {
	return LookupUID(os.Getuid())
}

// getentCache keeps getent's answers for this process: a run resolves
// its user more than once (the id maps, the owners check, keep-id).
var getentCache sync.Map // "db/id" -> []string or error

// getent returns the fields of `getent DB ID`'s one line, checking that
// the entry is for id.
func getent(db string, id int) ([]string, error) {
	key := db + "/" + strconv.Itoa(id)
	if v, ok := getentCache.Load(key); ok {
		if err, isErr := v.(error); isErr {
			return nil, err
		}
		return v.([]string), nil
	}
	f, err := runGetent(db, id)
	if err != nil {
		getentCache.Store(key, err)
		return nil, err
	}
	getentCache.Store(key, f)
	return f, nil
}

func runGetent(db string, id int) ([]string, error) {
	path, err := exec.LookPath("getent")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(path, db, strconv.Itoa(id)).Output()
	if err != nil {
		return nil, err
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	f := strings.Split(string(line), ":")
	if len(f) < 3 || f[2] != strconv.Itoa(id) || f[0] == "" {
		return nil, errors.New("getent " + db + ": no entry for " + strconv.Itoa(id))
	}
	return f, nil
}
