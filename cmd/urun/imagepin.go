package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/store"
)

// imageUse is the image a `urun run` or `create` starts from. Its pin
// (store/pin.go) keeps `urun rmi` from deleting the image between the
// lookup and the container's registration; from then on rmi sees the
// container in the state root (imageUsers) and refuses.
type imageUse struct {
	img *store.Image
	// rootfs is the unpacked tree the container's overlay uses.
	rootfs string
}

// release drops the pin: call it once the container is registered.
func (u *imageUse) release() {
	if u.img != nil {
		u.img.Release()
	}
}

// record notes in st which image and unpacked tree the container uses.
func (u *imageUse) record(st *container.State) {
	if u.img != nil {
		st.ImageDigest = u.img.Digest.String()
		st.ImageRootfs = u.rootfs
	}
}

// imageUser is a container that uses an image's unpacked files.
type imageUser struct{ id, name string }

// imageUsers lists the containers of the state root whose root
// filesystem is one of the trees RemoveRootfs would delete for d: the
// same image unpacked in this data directory (any mapping, squashed or
// not). Every registered container counts, whatever its status.
func imageUsers(root, data string, d store.Digest) ([]imageUser, error) {
	ids, err := container.List(root)
	if err != nil {
		return nil, err
	}
	prefix := filepath.Join(data, "rootfs", d.Encoded()) + "-"
	var users []imageUser
	for _, id := range ids {
		st, err := container.Load(root, id)
		if err != nil {
			continue // removed meanwhile
		}
		if abandoned(st) && reclaim(root, id) {
			continue
		}
		if strings.HasPrefix(st.ImageRootfs, prefix) || st.ImageRootfs == layerStoreUse(data, d) {
			users = append(users, imageUser{id: id, name: st.Name})
		}
	}
	return users, nil
}

// inUseError is rmi's refusal: one line naming the containers and the fix.
func inUseError(image string, users []imageUser) error {
	var names []string
	for _, u := range users {
		n := u.name
		if n == "" {
			n = u.id[:min(12, len(u.id))]
		}
		names = append(names, n)
	}
	what := "container"
	if len(names) > 1 {
		what = "containers"
	}
	return fmt.Errorf("image %s is in use by %s %s: remove %s first ('urun rm %s'), or use 'urun rmi -f %s' to remove %s too",
		image, what, strings.Join(names, ", "), map[bool]string{true: "them", false: "it"}[len(names) > 1],
		strings.Join(names, " "), image, map[bool]string{true: "them", false: "it"}[len(names) > 1])
}

// keepSquash makes a later start or restart use the tree this create or
// run -d chose when the opt-in came from URUN_SQUASH_IDS, which the
// start's environment may lack: it adds --squash-ids to the run args.
func keepSquash(args []string, squash bool) []string {
	if !squash {
		return args
	}
	for i, a := range args {
		if a == "run" {
			out := append(append(append([]string{}, args[:i+1]...), "--squash-ids"), args[i+1:]...)
			return out
		}
	}
	return args
}
