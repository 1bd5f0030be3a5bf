package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
)

func init() {
	register("pull", func() *command {
		fs := pflag.NewFlagSet("pull", pflag.ContinueOnError)
		tlsVerify := fs.Bool("tls-verify", true, "require HTTPS with a trusted certificate (false for a local registry on plain HTTP)")
		quiet := fs.BoolP("quiet", "q", false, "print no progress")
		imageStore := fs.String("image-store", "", "where the image goes: urun (urun's store) or podman (the user's podman store); default $URUN_IMAGE_STORE or urun")
		storageRoot := fs.String("storage-root", "", "with --image-store=podman: the containers/storage root (podman's --root; default: graphroot from storage.conf)")
		authFile := fs.String("authfile", "", "the credentials file (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)")
		return &command{
			name:  "pull",
			short: "Copy an image into the local store",
			usage: "pull [flags] IMAGE\n\nIMAGE: NAME[:TAG] or docker://NAME (a registry), oci:DIR[:TAG],\n       oci-archive:FILE[:NAME], docker-archive:FILE[:NAME]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("pull", "one IMAGE argument")
				}
				f := runFlags{imageStore: *imageStore, storageRoot: *storageRoot}
				if err := f.resolveImageStore(); err != nil {
					return err
				}
				if f.imageStore == imageStorePodman {
					reply, err := engine.PodmanPull(f.storageRoot, podmanstore.PullRequest{Source: args[0], TLSVerify: *tlsVerify, AuthFile: *authFile, Quiet: *quiet})
					if err != nil {
						return err
					}
					// podman pull prints the image id.
					fmt.Println(reply.ImageID)
					return nil
				}
				if err := checkOwners(nil); err != nil {
					return err
				}
				a := pullFlags(*tlsVerify, *quiet)
				if *authFile != "" {
					a = append(a, "--authfile", *authFile)
				}
				name, err := imageHelper(append(append([]string{"pull"}, a...), args[0])...)
				if err != nil {
					return err
				}
				s, err := openStore()
				if err != nil {
					return err
				}
				img, err := s.Lookup(name)
				if err != nil {
					return err
				}
				engine.UnpackAtPull(s, img, *quiet, g.debug)
				fmt.Println(img.Digest)
				return nil
			},
		}
	})
}

// openStore opens the image store under the data directory.
func openStore() (*store.Store, error) {
	data, err := engine.DataDir()
	if err != nil {
		return nil, err
	}
	s, err := store.OpenStore(data)
	if err != nil {
		return nil, err
	}
	// Short names go through registries.conf, as answered by urun-image
	// once and cached (store/shortnames.go). Without the helper, they
	// mean docker.io, then localhost/.
	if _, err := engine.ImageHelper(); err != nil {
		return s, nil
	}
	s.ShortNames = store.CachedShortNames(data, func(name string) ([]string, error) {
		out, err := imageHelper("resolve", name)
		if err != nil {
			return nil, err
		}
		return strings.Split(out, "\n"), nil
	})
	return s, nil
}
