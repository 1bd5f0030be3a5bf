// Package podmanstore lets urun run images from the user's podman store
// (containers/storage, ~/.local/share/containers/storage) in place: no
// copy into urun's store, no unpack.
//
// The containers/storage code runs in the helper urun-image
// (`urun-image __podman-store`), never in urun: linking it would cost
// every container start its package initialisation (docs/STORE.md). The
// helper runs as root of a user namespace with podman's mapping
// (container 0 → the user, 1… → the subordinate ids), entered through
// urun's userns package, so it sees the store's files with the owners
// podman sees and may create and delete layers whose files belong to
// subordinate ids. This package holds what both sides share and the
// parent's side; it imports nothing of containers/storage.
//
// While a urun container uses podman's layers, a containers/storage
// container record holds them (Op "acquire"): `podman ps --external`
// lists it and `podman rmi` refuses "image is in use by a container".
// The record's own layer is the container's writable layer. Removing the
// urun container deletes the record (Op "release").
package podmanstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/userns"
)

// Command is the helper's hidden subcommand.
const Command = "__podman-store"

// Message types between urun and the helper.
const (
	MsgRequest = "podman-store-request"
	MsgReply   = "podman-store-reply"
)

// Operations.
const (
	// OpLookup finds the image and its layer directories, holding nothing
	// (for --dry-run).
	OpLookup = "lookup"
	// OpAcquire also creates (or finds, on a restart) the container record
	// named by ContainerID and returns its writable layer.
	OpAcquire = "acquire"
	// OpRelease deletes the container record and its layer.
	OpRelease = "release"
	// OpPull copies Pull.Source into the store (as podman pull does) and
	// answers with the name it got and the image id.
	OpPull = "pull"

	// urun's own layer store (Request.Own, store/layerstore.go):
	//
	// OpImport copies the image Pull.Source (oci:DIR:NAME, urun's OCI
	// layout) into it under the name Image, unpacking each layer it does
	// not hold yet, and answers with the image id.
	OpImport = "import"
	// OpImportLayers unpacks Layers (base first) from the blobs of
	// urun's OCI layout at Layout while a pull is still writing them:
	// each layer as soon as its blob is there, a missing one waited for
	// as long as the directory WaitFor (the pull's tmp directory) exists
	// and the caller lives. Then it waits for the pull to write the
	// image's name to WaitFor/ImportNameFile (the image is in urun's
	// index by then) and records the image as OpImport does; a pull that
	// ends without writing it leaves the layers to urun's OpImport.
	OpImportLayers = "import-layers"
	// OpForget deletes the images whose manifest digest is Image, and
	// the layers no other image uses.
	OpForget = "forget"
	// OpCheck runs containers/storage's consistency check (and, with
	// Repair, its repair); Reply.Problems lists what it found.
	OpCheck = "check"
	// OpCommit makes a container's writable layer (Commit.Upper) a new
	// image on top of Commit.Parent: the layer's blob, config and
	// manifest in urun's OCI layout under the name Image, then the image
	// in the layer store (only the new layer is unpacked). Reply.ImageID
	// is the layer store's id, Reply.Digest the manifest digest.
	OpCommit = "commit"
	// OpDiff writes the uncompressed tar of each of Layers (found by its
	// DiffID: any complete layer with that content) to the helper's
	// descriptor 4+i, closing each when done: the per-mapping trees'
	// source where a layer's blob was dropped (store/blobsweep.go).
	OpDiff = "diff"
	// OpSave and OpPush copy an image of the layer store (Transfer) to
	// an archive or a registry, with image/v5's containers-storage
	// transport as the source: each layer is the layer store's Diff,
	// compressed again where the destination wants it.
	OpSave = "save"
	OpPush = "push"
)

// CommitRequest is OpCommit's input; engine/commit.go fills it in.
type CommitRequest struct {
	// Store is urun's OCI layout (DATA/images); Parent the full name or
	// id of the container's image there.
	Store  string `json:"store"`
	Parent string `json:"parent"`
	// Upper is the container's writable layer, Lower the image's layer
	// directories it covers (topmost first: an opaque directory of the
	// upper is only one where a lower has the directory).
	Upper string   `json:"upper"`
	Lower []string `json:"lower,omitempty"`
	// Exclude are paths (relative to the root) the runtime made as mount
	// points, not the container's changes.
	Exclude []string `json:"exclude,omitempty"`
	// UIDMap and GIDMap map the ids the helper sees (HostID: its user
	// namespace's) to the container's (ContainerID), so the layer's
	// owners are the container's ids; empty: the same ids.
	UIDMap []idmap.Range `json:"uidMap,omitempty"`
	GIDMap []idmap.Range `json:"gidMap,omitempty"`
	// Config is the new image's OCI config without its new layer
	// (rootfs and history get the new layer's entry); History that entry.
	Config  json.RawMessage `json:"config"`
	History json.RawMessage `json:"history"`
	// Healthcheck is the container's health check as docker's config
	// writes it (config.Healthcheck); empty: the parent's stays.
	Healthcheck json.RawMessage `json:"healthcheck,omitempty"`
	// Format is "oci" or "docker" (the manifest's and config's media types).
	Format string `json:"format"`
}

// PullRequest is OpPull's source and registry options. With OpAcquire,
// Policy "missing" pulls Source when the image is not in the store, and
// "always" pulls it first, as `urun run --pull` does with urun's store.
type PullRequest struct {
	Policy    string `json:"policy,omitempty"`
	Source    string `json:"source"`
	TLSVerify bool   `json:"tlsVerify"`
	AuthFile  string `json:"authFile,omitempty"`
	Quiet     bool   `json:"quiet,omitempty"`
}

// helperTimeout bounds one helper run. A vfs store copies the image into
// the container's layer on acquire, which takes as long as the image is
// big.
const helperTimeout = 10 * time.Minute

// pullTimeout bounds a helper run that pulls.
const pullTimeout = 4 * time.Hour

// StartWindow bounds the time from a record's creation to its urun
// container's state: a marker without state that is older belongs to a
// urun that died while starting.
const StartWindow = helperTimeout + 5*time.Minute

// Request is what urun asks the helper.
type Request struct {
	Op string `json:"op"`
	// Image is a name, full or short, or an image id (prefix) as podman
	// shows it.
	Image string `json:"image,omitempty"`
	// ContainerID is the urun container's id, used as the record's id.
	ContainerID string `json:"containerID,omitempty"`
	// Name is the record's name (shown by podman ps --external).
	Name string `json:"name,omitempty"`
	// Pull is OpPull's source, or OpAcquire's pull policy.
	Pull *PullRequest `json:"pull,omitempty"`
	// GraphRoot overrides storage.conf's graphroot (--storage-root).
	GraphRoot string `json:"graphRoot,omitempty"`
	// StateRoot is urun's state directory; the record carries it. On
	// acquire, records of that StateRoot whose id is not in Live are
	// stale (their urun state died, as in a reboot: the state lives in
	// the runtime directory, the records in podman's store) and are
	// deleted.
	StateRoot string   `json:"stateRoot,omitempty"`
	Live      []string `json:"live,omitempty"`
	// Own: urun's own layer store at GraphRoot (overlay driver, run
	// root RunRoot), not podman's.
	Own     bool   `json:"own,omitempty"`
	RunRoot string `json:"runRoot,omitempty"`
	Repair  bool   `json:"repair,omitempty"`
	// OpImportLayers' layers, layout and the directory to wait on.
	Layers  []PlannedLayer `json:"layers,omitempty"`
	Layout  string         `json:"layout,omitempty"`
	WaitFor string         `json:"waitFor,omitempty"`
	// Commit is OpCommit's input.
	Commit *CommitRequest `json:"commit,omitempty"`
	// Transfer is OpSave's and OpPush's input.
	Transfer *TransferRequest `json:"transfer,omitempty"`
}

// TransferRequest is what OpSave and OpPush copy: the layer store's image
// ImageID (its config digest, hex) under the full name Name, to File in
// Format (OpSave) or to the registry name Dest (OpPush).
type TransferRequest struct {
	ImageID string `json:"imageID"`
	// ManifestDigest is the manifest of urun's index (the layer store
	// keeps each under "manifest-DIGEST").
	ManifestDigest string `json:"manifestDigest,omitempty"`
	Name           string `json:"name"`
	File           string `json:"file,omitempty"`
	Format         string `json:"format,omitempty"`
	Dest           string `json:"dest,omitempty"`
	TLSVerify      bool   `json:"tlsVerify"`
	AuthFile       string `json:"authFile,omitempty"`
	Quiet          bool   `json:"quiet,omitempty"`
	// BlobInfoCacheDir as transfer.TransferOptions has it.
	BlobInfoCacheDir string `json:"blobInfoCacheDir,omitempty"`
}

// ImportNameFile is the file in OpImportLayers' WaitFor directory that
// names the pulled image.
const ImportNameFile = "urun-import-name"

// PlannedLayer is one layer a pull is bringing: its blob's digest and
// size, and the digest of its uncompressed tar (the config's diff_id).
type PlannedLayer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	DiffID string `json:"diffID"`
}

// MetaStateRoot is the record metadata key holding Request.StateRoot.
const MetaStateRoot = "urun-state-root"

// Reply describes the image and the directories to mount.
type Reply struct {
	GraphRoot string `json:"graphRoot"`
	// Name is the full name OpPull stored the image under.
	Name    string `json:"name,omitempty"`
	Driver  string `json:"driver"`
	ImageID string `json:"imageID"`
	// Config is the image's OCI config blob.
	Config json.RawMessage `json:"config,omitempty"`
	// Lower lists the image's layer directories, topmost first
	// (overlay: each layer's diff; vfs: the top layer, a whole tree).
	Lower []string `json:"lower,omitempty"`
	// Upper and Work are the record's overlay directories (overlay
	// driver, acquire only).
	Upper string `json:"upper,omitempty"`
	Work  string `json:"work,omitempty"`
	// Rootfs is the record's own tree (vfs driver, acquire only): a copy
	// of the image made by containers/storage, mounted as it is.
	Rootfs string `json:"rootfs,omitempty"`
	// Digest is OpCommit's manifest digest (urun's image id).
	Digest string `json:"digest,omitempty"`
	// Problems is OpCheck's findings, one line each.
	Problems []string `json:"problems,omitempty"`
}

// Marker is what urun keeps beside a container's state so that removing
// the container releases its record.
type Marker struct {
	GraphRoot string `json:"graphRoot"`
}

// Call runs the helper at helper in a user namespace with maps (which
// must be podman's: see CheckMaps) and returns its reply.
func Call(helper string, maps userns.Maps, req Request) (*Reply, error) {
	return CallFiles(helper, maps, req, nil)
}

// CallFiles is Call passing files to the helper (descriptors 4, 5, … in
// it, in order: OpDiff's pipes). The parent's copies are closed once the
// helper holds them, so a pipe's reader sees its end when the helper
// closes it.
func CallFiles(helper string, maps userns.Maps, req Request, files []*os.File) (*Reply, error) {
	closeFiles := func() {
		for _, f := range files {
			f.Close()
		}
	}
	env := append(os.Environ(),
		// containers/storage decides rootless paths (graphroot under
		// $XDG_DATA_HOME, runroot under $XDG_RUNTIME_DIR, the user's
		// storage.conf) from these when it runs as root of a user
		// namespace, as podman's own re-exec sets them.
		"_CONTAINERS_USERNS_CONFIGURED=1",
		"_CONTAINERS_ROOTLESS_UID="+strconv.Itoa(os.Getuid()),
		"_CONTAINERS_ROOTLESS_GID="+strconv.Itoa(os.Getgid()),
	)
	child, err := userns.Start(userns.Config{
		Path: helper,
		Args: []string{"urun-image", Command},
		Env:  env,
		// Its own mount namespace: containers/storage's driver probes
		// mount test overlays, which must not outlive the helper.
		Cloneflags: syscall.CLONE_NEWNS,
		UIDMap:     maps.UID,
		GIDMap:     maps.GID,
		UseHelpers: maps.UseHelpers,
		Stderr:     os.Stderr,
		ExtraFiles: files,
	})
	closeFiles()
	if err != nil {
		return nil, fmt.Errorf("starting the podman store helper: %w", err)
	}
	var reply Reply
	timeout := helperTimeout
	if req.Pull != nil || req.Transfer != nil || req.Op == OpDiff {
		// A pull or push takes as long as the network does; its
		// progress shows. A diff goes at the pace of its reader.
		timeout = pullTimeout
	}
	err = child.Call(MsgRequest, req, MsgReply, timeout, &reply)
	var pe *userns.PeerError
	if errors.As(err, &pe) {
		return nil, errors.New(pe.Msg)
	}
	if err != nil {
		return nil, fmt.Errorf("podman store helper: %w", err)
	}
	return &reply, nil
}

// CheckMaps refuses a mapping other than podman's rootless one: the
// store's files carry the host ids that mapping gives them, so any other
// mapping would show the container wrong owners (or none at all).
func CheckMaps(maps userns.Maps) error {
	switch {
	case maps.Mode == idmap.ModeAuto && maps.UseHelpers:
		return nil
	case maps.Mode == idmap.ModeKeepID:
		return errors.New("--image-store=podman cannot be used with --userns=keep-id: podman's store holds files with the ids of podman's own mapping (container 0 → your uid, 1… → your subordinate ids); drop --userns, or use urun's store (urun pull, then run without --image-store)")
	}
	return errors.New("--image-store=podman needs the mapping podman uses (container 0 → your uid, 1… → your subordinate ids from /etc/subuid with newuidmap): give your user subordinate ids (urun doctor shows how), or use urun's store")
}
