package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
)

// userEntries returns the image's /etc/passwd and /etc/group with an
// entry added for the container's user and group when the image has
// none, as podman does (`--user 1000`, `--userns=keep-id`): programs
// that look their user up (whoami, ssh, git, npm) then work. Nil when
// nothing needs adding.
func userEntries(u specs.User, readFile container.ReadFile, keepID bool) map[string][]byte {
	if u.UID == 0 || readFile == nil {
		return nil
	}
	out := map[string][]byte{}
	name := "user" + strconv.FormatUint(uint64(u.UID), 10)
	home := "/"
	if keepID {
		// Your own name, as podman's keep-id.
		if me, err := user.Current(); err == nil && me.Username != "" {
			name = me.Username
		}
	}
	if passwd, err := readFile("/etc/passwd"); err == nil || errors.Is(err, fs.ErrNotExist) {
		if !hasID(passwd, 2, u.UID) {
			line := fmt.Sprintf("%s:*:%d:%d:%s:%s:/bin/sh\n", name, u.UID, u.GID, name, home)
			out["passwd"] = append(withNewline(passwd), line...)
		}
	}
	if group, err := readFile("/etc/group"); err == nil || errors.Is(err, fs.ErrNotExist) {
		if !hasID(group, 2, u.GID) {
			line := fmt.Sprintf("%s:x:%d:\n", name, u.GID)
			out["group"] = append(withNewline(group), line...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// hasID tells whether a colon-separated file has id in field i.
func hasID(b []byte, i int, id uint32) bool {
	want := strconv.FormatUint(uint64(id), 10)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ":"); len(f) > i && f[i] == want {
			return true
		}
	}
	return false
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}
