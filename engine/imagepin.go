package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/store"
)

// ImageUse is the image a `urun run` or `create` starts from. Its pin
// (store/pin.go) keeps `urun rmi` from deleting the image between the
// lookup and the container's registration; from then on rmi sees the
// container in the state root (ImageUsers) and refuses.
type ImageUse struct {
	Img *store.Image
	// Rootfs is the unpacked tree the container's overlay uses.
	Rootfs string
}

// Release drops the pin: call it once the container is registered.
func (u *ImageUse) Release() {
	if u.Img != nil {
		u.Img.Release()
	}
}

// ImageUser is a container that uses an image's unpacked files.
type ImageUser struct{ ID, Name string }

// ImageUsers lists the containers of the state root whose root
// filesystem is one of the trees RemoveRootfs would delete for d: the
// same image unpacked in this data directory (any mapping, squashed or
// not). Every registered container counts, whatever its status.
func ImageUsers(root, data string, d store.Digest) ([]ImageUser, error) {
	ids, err := container.List(root)
	if err != nil {
		return nil, err
	}
	prefix := filepath.Join(data, "rootfs", d.Encoded()) + "-"
	var users []ImageUser
	for _, id := range ids {
		st, err := container.Load(root, id)
		if err != nil {
			continue // removed meanwhile
		}
		if Abandoned(st) && Reclaim(root, id) {
			continue
		}
		if strings.HasPrefix(st.ImageRootfs, prefix) || st.ImageRootfs == store.LayerStoreUse(data, d) {
			users = append(users, ImageUser{ID: id, Name: st.Name})
		}
	}
	return users, nil
}

// ErrImageInUse is what InUseError's refusal matches (errors.Is): rmi -a
// goes on past an image containers use.
var ErrImageInUse = errors.New("image in use")

type inUseError struct{ msg string }

func (e *inUseError) Error() string { return e.msg }
func (e *inUseError) Unwrap() error { return ErrImageInUse }

// InUseError is rmi's refusal: one line naming the containers and the fix.
func InUseError(image string, users []ImageUser) error {
	var names []string
	for _, u := range users {
		n := u.Name
		if n == "" {
			n = u.ID[:min(12, len(u.ID))]
		}
		names = append(names, n)
	}
	what := "container"
	if len(names) > 1 {
		what = "containers"
	}
	return &inUseError{fmt.Sprintf("image %s is in use by %s %s: remove %s first ('urun rm %s'), or use 'urun rmi -f %s' to remove %s too",
		image, what, strings.Join(names, ", "), map[bool]string{true: "them", false: "it"}[len(names) > 1],
		strings.Join(names, " "), image, map[bool]string{true: "them", false: "it"}[len(names) > 1])}
}
