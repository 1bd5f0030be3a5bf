// Package transfer copies images into and out of urun's store with
// go.podman.io/image/v5. It is linked only into urun-image, the helper
// that urun runs for pull, load and save, so urun itself does not pay
// image/v5's package initialisation on every start.
package transfer

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"

	"github.com/urun-dev/urun/store"
)

// maxJSON bounds the small JSON files read from archives.
const maxJSON = 4 << 20

// TransferOptions are the knobs of pull, load and save.
type TransferOptions struct {
	// TLSVerify false allows a registry with a self-signed certificate or
	// plain HTTP (a local registry on localhost:PORT).
	TLSVerify bool
	// Progress receives image/v5's report: a bar per layer when it is a
	// terminal, one line per blob otherwise. Nil is quiet.
	Progress io.Writer
	// AuthFile, when set, is the credentials file to read instead of the
	// default ones (--authfile, $REGISTRY_AUTH_FILE).
	AuthFile string
	// Prompt, when set, is the terminal to ask on which registry an
	// ambiguous short name means (enforcing mode); PromptOut shows the
	// question. Nil fails listing the candidates.
	Prompt    io.Reader
	PromptOut io.Writer
	// BlobInfoCacheDir is where image/v5 keeps its blob-info cache
	// (blob-info-cache-v1.sqlite). Empty is image/v5's default,
	// ~/.local/share/containers/cache: urun sets its own data dir, so
	// that it writes nothing outside it.
	BlobInfoCacheDir string
	// Overlap, when set, is told the layers a pull or load is about to
	// copy into the store (base first) before the copy starts, and
	// returns what to call after it, with the name the image got in the
	// store ("" when the copy failed), which returns when the unpack is
	// done: urun-image unpacks each layer into the layer store as its
	// blob arrives, then records the image (docs/STORE.md).
	Overlap func(Plan) (wait func(name string))
}

// Plan is what an overlapping unpack needs: the layers as the image's
// manifest and config give them (blob digest and size, diff id), the
// store's layout directory the blobs land in, and the copy's tmp
// directory, which exists exactly as long as the copy runs.
type Plan struct {
	Layers []PlanLayer
	Layout string
	Until  string
}

// PlanLayer is one layer of a Plan.
type PlanLayer struct {
	Digest, DiffID string
	Size           int64
}

// plan reads the layers of src (the platform's instance of a manifest
// list) and their diff ids: one more fetch of the manifest and the config
// before image/v5's copy fetches them again. ok is false where the source
// does not say (a schema 1 manifest without diff ids).
func plan(ctx context.Context, src types.ImageReference, sys *types.SystemContext) (layers []PlanLayer, ok bool) {
	img, err := src.NewImage(ctx, sys)
	if err != nil {
		return nil, false
	}
	defer img.Close()
	infos := img.LayerInfos()
	config, err := img.OCIConfig(ctx)
	if err != nil || len(config.RootFS.DiffIDs) != len(infos) || len(infos) == 0 {
		return nil, false
	}
	for i, l := range infos {
		layers = append(layers, PlanLayer{Digest: l.Digest.String(), Size: l.Size, DiffID: config.RootFS.DiffIDs[i].String()})
	}
	return layers, true
}

func (o TransferOptions) system() *types.SystemContext {
	sys := &types.SystemContext{AuthFilePath: o.AuthFile, BlobInfoCacheDir: o.BlobInfoCacheDir}
	if !o.TLSVerify {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	return sys
}

// SourceRef turns what `urun pull` was given into an image/v5 reference
// and the name the image gets in the store.
//
//	docker://NAME, NAME                  → the registry; NAME normalised
//	oci:DIR[:TAG]                        → localhost/BASENAME(DIR):TAG
//	oci-archive:FILE[:NAME]              → NAME, or the archive's own name
//	docker-archive:FILE[:NAME]           → NAME, or the archive's own name
func SourceRef(src string) (types.ImageReference, string, error) {
	transport, rest, _ := strings.Cut(src, ":")
	switch transport {
	case "oci":
		dir, tag, _ := store.ParseOCIRef(src)
		ref, err := layout.NewReference(dir, tag)
		if err != nil {
			return nil, "", err
		}
		if tag == "" {
			tag = "latest"
		}
		name, err := store.NormalizeName("localhost/" + strings.ToLower(filepath.Base(dir)) + ":" + tag)
		return ref, name, err
	case "oci-archive", "docker-archive":
		file, name, _ := strings.Cut(rest, ":")
		return archiveRef(transport, file, name)
	}
	full, err := store.NormalizeName(src)
	if err != nil {
		return nil, "", err
	}
	named, err := reference.ParseNormalizedNamed(full)
	if err != nil {
		return nil, "", err
	}
	ref, err := docker.NewReference(named)
	return ref, full, err
}

// hasTransport reports whether src starts with a transport name.
func hasTransport(src string) bool {
	for _, t := range []string{"docker://", "oci:", "oci-archive:", "docker-archive:"} {
		if strings.HasPrefix(src, t) {
			return true
		}
	}
	return false
}

// archiveRef opens an archive; name, when empty, is read from the archive.
func archiveRef(transport, file, name string) (types.ImageReference, string, error) {
	if transport == "" {
		var err error
		if transport, err = sniffArchive(file); err != nil {
			return nil, "", err
		}
	}
	inner, err := archiveName(transport, file)
	if err != nil {
		return nil, "", err
	}
	if name == "" {
		name = inner
	}
	if name == "" {
		return nil, "", fmt.Errorf("%s has no image name in it: give one, as in 'urun load -i %s NAME'", file, file)
	}
	full, err := store.NormalizeName(name)
	if err != nil {
		return nil, "", err
	}
	var ref types.ImageReference
	if transport == "oci-archive" {
		ref, err = ociarchive.NewReference(file, inner)
	} else {
		ref, err = dockerarchive.NewReference(file, nil)
	}
	return ref, full, err
}

// sniffArchive tells an OCI archive (has oci-layout) from a docker one
// (has manifest.json).
func sniffArchive(file string) (string, error) {
	kind := ""
	err := walkTar(file, func(h *tar.Header, _ io.Reader) bool {
		switch strings.TrimPrefix(h.Name, "./") {
		case "oci-layout":
			kind = "oci-archive"
		case "manifest.json":
			kind = "docker-archive"
		}
		return kind == ""
	})
	if err != nil {
		return "", err
	}
	if kind == "" {
		return "", fmt.Errorf("%s is neither an OCI nor a docker archive (no oci-layout or manifest.json in it)", file)
	}
	return kind, nil
}

// archiveName reads the image name an archive carries: the first RepoTag
// of a docker archive, or the ref.name annotation of an OCI archive when
// it is a full name.
func archiveName(transport, file string) (string, error) {
	want := "manifest.json"
	if transport == "oci-archive" {
		want = "index.json"
	}
	var b []byte
	err := walkTar(file, func(h *tar.Header, r io.Reader) bool {
		if strings.TrimPrefix(h.Name, "./") != want {
			return true
		}
		b, _ = io.ReadAll(io.LimitReader(r, maxJSON))
		return false
	})
	if err != nil || b == nil {
		return "", err
	}
	if transport == "docker-archive" {
		var m []struct{ RepoTags []string }
		if json.Unmarshal(b, &m) == nil && len(m) == 1 && len(m[0].RepoTags) > 0 {
			return m[0].RepoTags[0], nil
		}
		return "", nil
	}
	var idx v1.Index
	if json.Unmarshal(b, &idx) == nil && len(idx.Manifests) == 1 {
		n := idx.Manifests[0].Annotations[v1.AnnotationRefName]
		if _, err := reference.ParseNormalizedNamed(n); err == nil && strings.Contains(n, "/") {
			return n, nil
		}
	}
	return "", nil
}

func walkTar(file string, f func(*tar.Header, io.Reader) bool) error {
	fh, err := os.Open(file)
	if err != nil {
		return err
	}
	defer fh.Close()
	tr := tar.NewReader(fh)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w (urun reads uncompressed tar archives)", file, err)
		}
		if !f(h, tr) {
			return nil
		}
	}
}

// Pull copies the image src names into the store and returns the name it
// got. Blobs land in the store's shared blob directory, each checked
// against its digest and renamed into place; the name is added last, by
// rename of index.json. A pull killed at any point leaves the store as it
// was plus, at most, complete blobs and a tmp directory the next write
// removes.
func Pull(ctx context.Context, s *store.Store, src string, o TransferOptions) (string, error) {
	return PullInto(ctx, func(ctx context.Context, ref types.ImageReference, name string, o TransferOptions) error {
		return copyIn(ctx, s, ref, name, o)
	}, src, o)
}

// Sink stores the image ref under the full name: urun's store (Pull), or
// podman's (urun-image's podman store helper).
type Sink func(ctx context.Context, ref types.ImageReference, name string, o TransferOptions) error

// PullInto is Pull into any sink: src is resolved the same way (short
// names through registries.conf, transports) and the name it got returned.
func PullInto(ctx context.Context, sink Sink, src string, o TransferOptions) (string, error) {
	if store.IsShortName(src) && !hasTransport(src) {
		return pullShort(ctx, sink, src, o)
	}
	ref, name, err := SourceRef(src)
	if err != nil {
		return "", err
	}
	return name, sink(ctx, ref, name, o)
}

// CopyImage copies src to dst with the user's signature policy and the
// registry options of o, reporting to o.Progress; it returns the manifest.
func CopyImage(ctx context.Context, dst, src types.ImageReference, o TransferOptions) ([]byte, error) {
	policy, err := policyContext()
	if err != nil {
		return nil, err
	}
	defer policy.Destroy()
	return copy.Image(ctx, policy, dst, src, &copy.Options{SourceCtx: o.system(), DestinationCtx: o.system(), ReportWriter: o.Progress})
}

// ExplainPullError is the one-line error of a failed pull of name.
func ExplainPullError(name string, err error) error { return explainCopyError("pulling", name, err) }

// Load copies an archive made by `urun save`, `podman save` or
// `docker save` into the store; name overrides the name it carries.
func Load(ctx context.Context, s *store.Store, file, name string, o TransferOptions) (string, error) {
	ref, full, err := archiveRef("", file, name)
	if err != nil {
		return "", err
	}
	return full, copyIn(ctx, s, ref, full, o)
}

func copyIn(ctx context.Context, s *store.Store, src types.ImageReference, name string, o TransferOptions) (err error) {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.ClearTmp(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "tmp"), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.Dir, "tmp"), "pull-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	layoutRef, err := layout.NewReference(tmp, "")
	if err != nil {
		return err
	}
	var dst types.ImageReference = layoutRef
	if os.Getenv("URUN_LAYER_STORE") != "0" {
		graph := store.LayerStoreDir(filepath.Dir(s.Dir))
		dst = storedLayerRef{ImageReference: layoutRef, stored: func(d digest.Digest) (int64, bool) { return store.StoredLayerBlob(graph, d) }}
	}
	policy, err := policyContext()
	if err != nil {
		return err
	}
	defer policy.Destroy()
	sys := o.system()
	// The blob-info cache goes by the destination's context.
	dstSys := &types.SystemContext{OCISharedBlobDirPath: filepath.Join(s.Dir, "blobs"), BlobInfoCacheDir: o.BlobInfoCacheDir}
	parallel := uint(0) // image/v5's default, 6 at once
	// Only where reading the plan is cheap: a registry or a layout (an
	// oci-archive would be unpacked twice, a compressed docker-archive
	// decompressed twice).
	if t := src.Transport().Name(); o.Overlap != nil && (t == "docker" || t == "oci") {
		layers, ok := plan(ctx, src, sys)
		var wait func(string)
		if ok {
			wait = o.Overlap(Plan{Layers: layers, Layout: s.Dir, Until: tmp})
		}
		if wait != nil {
			parallel = 1
			// Runs before the deferred RemoveAll of tmp. On success the
			// image has its name: the unpack records it. On failure,
			// removing tmp first ends the unpack's wait for a blob the
			// copy did not bring.
			defer func() {
				if err == nil {
					wait(name)
					return
				}
				os.RemoveAll(tmp)
				wait("")
			}()
		}
	}
	_, err = copy.Image(ctx, policy, dst, src, &copy.Options{
		SourceCtx:      sys,
		DestinationCtx: dstSys,
		ReportWriter:   o.Progress,
		// One blob at a time, base first, while unpacking overlaps: the
		// unpack takes each layer as it lands, instead of all of them
		// landing together at the end (docs/STORE.md has the numbers).
		MaxParallelDownloads: parallel,
		// The store keeps layers as the registry sent them; a
		// conversion would change the digests users see.
		PreserveDigests: true,
	})
	if err != nil {
		return explainCopyError("pulling", name, err)
	}
	var index v1.Index
	b, err := os.ReadFile(filepath.Join(tmp, "index.json"))
	if err == nil {
		err = json.Unmarshal(b, &index)
	}
	if err != nil {
		return fmt.Errorf("reading the copied image's index: %w", err)
	}
	if len(index.Manifests) != 1 {
		return fmt.Errorf("copying %s gave %d manifests, expected one", name, len(index.Manifests))
	}
	return s.AddName(name, index.Manifests[0])
}

// Save writes the image name to file as a docker-archive (what `docker
// load` reads) or an oci-archive.
func Save(ctx context.Context, s *store.Store, name, file, format string, o TransferOptions) error {
	full, err := s.Find(name)
	if err != nil {
		return err
	}
	src, err := layout.NewReference(s.Dir, full)
	if err != nil {
		return err
	}
	return SaveRef(ctx, src, full, file, format, o)
}

// SaveRef is Save of the image src (urun's layout, or the layer store
// through image/v5's containers-storage transport) named full.
func SaveRef(ctx context.Context, src types.ImageReference, full, file, format string, o TransferOptions) error {
	named, err := reference.ParseNormalizedNamed(full)
	if err != nil {
		return err
	}
	var dst types.ImageReference
	switch format {
	case "docker-archive", "":
		tagged, _ := reference.TagNameOnly(named).(reference.NamedTagged)
		dst, err = dockerarchive.NewReference(file, tagged)
	case "oci-archive":
		dst, err = ociarchive.NewReference(file, full)
	default:
		return fmt.Errorf("--format %q: use docker-archive or oci-archive", format)
	}
	if err != nil {
		return err
	}
	// docker-archive refuses to append to an existing file.
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	policy, err := policyContext()
	if err != nil {
		return err
	}
	defer policy.Destroy()
	_, err = copy.Image(ctx, policy, dst, src, &copy.Options{DestinationCtx: o.system(), ReportWriter: o.Progress})
	if err != nil {
		os.Remove(file)
		return fmt.Errorf("saving %s to %s: %w", full, file, err)
	}
	return nil
}

// Push copies the local image name to a registry: dest is NAME[:TAG] or
// docker://NAME[:TAG], or empty for the image's own name. Blobs the
// registry has are not sent again. It returns the digest of the manifest
// the registry stored.
func Push(ctx context.Context, s *store.Store, name, dest string, o TransferOptions) (string, error) {
	full, err := s.Find(name)
	if err != nil {
		return "", err
	}
	src, err := layout.NewReference(s.Dir, full)
	if err != nil {
		return "", err
	}
	return PushRef(ctx, src, full, dest, o)
}

// PushRef is Push of the image src (urun's layout, or the layer store)
// named full.
func PushRef(ctx context.Context, src types.ImageReference, full, dest string, o TransferOptions) (string, error) {
	if dest == "" {
		dest = full
	}
	if t, _, ok := strings.Cut(dest, ":"); ok && slices.Contains([]string{"oci", "oci-archive", "docker-archive", "dir", "containers-storage"}, t) {
		return "", fmt.Errorf("push %s: %q is not a registry: push to NAME[:TAG] or docker://NAME[:TAG] (urun save writes archives)", full, dest)
	}
	named, err := reference.ParseNormalizedNamed(strings.TrimPrefix(dest, "docker://"))
	if err != nil {
		return "", fmt.Errorf("push %s: destination %q: %w", full, dest, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("push %s: destination %q names a digest: give a tag (the registry computes the digest)", full, dest)
	}
	named = reference.TagNameOnly(named)
	dst, err := docker.NewReference(named)
	if err != nil {
		return "", err
	}
	policy, err := policyContext()
	if err != nil {
		return "", err
	}
	defer policy.Destroy()
	m, err := copy.Image(ctx, policy, dst, src, &copy.Options{
		DestinationCtx: o.system(),
		ReportWriter:   o.Progress,
	})
	if err != nil {
		return "", explainCopyError("pushing", named.String(), err)
	}
	d, err := manifest.Digest(m)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// policyContext reads the user's or the system's containers policy.json
// when there is one; without one, images are accepted as pulled (the
// digests are still checked), as on a host without containers-common.
func policyContext() (*signature.PolicyContext, error) {
	p, err := signature.DefaultPolicy(nil)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading the signature policy: %w", err)
		}
		p = &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}
	}
	return signature.NewPolicyContext(p)
}

// explainCopyError adds the fix to the errors users meet most.
func explainCopyError(verb, name string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "http: server gave HTTP response to HTTPS client"),
		strings.Contains(msg, "certificate signed by unknown authority"):
		return fmt.Errorf("%s %s: %w (a local registry without TLS needs --tls-verify=false)", verb, name, err)
	case strings.Contains(msg, "authentication required"), strings.Contains(msg, "unauthorized"),
		strings.Contains(msg, "invalid username/password"):
		reg, _, _ := strings.Cut(name, "/")
		return fmt.Errorf("%s %s: the registry wants credentials: log in with 'urun login %s' (%w)", verb, name, reg, err)
	case strings.Contains(msg, "Digest did not match"), strings.Contains(msg, "digest mismatch"):
		return fmt.Errorf("%s %s: a blob does not match its digest, nothing was stored: %w", verb, name, err)
	}
	return fmt.Errorf("%s %s: %w", verb, name, err)
}

// storedLayerRef is the OCI layout destination of a pull into urun's
// store, where a layer blob whose layer the layer store holds counts as
// present: the layer store keeps the layer instead of its blob
// (store/blobsweep.go), and a re-pull (run --pull=always) downloads only
// what it lacks. A layer held on another parent is unpacked from the
// layer store's copy (cmd/urun-image/layerstore_child.go, openLayer).
type storedLayerRef struct {
	types.ImageReference
	stored func(digest.Digest) (int64, bool)
}

func (r storedLayerRef) NewImageDestination(ctx context.Context, sys *types.SystemContext) (types.ImageDestination, error) {
	d, err := r.ImageReference.NewImageDestination(ctx, sys)
	if err != nil {
		return nil, err
	}
	// Only the public interface: image/v5 wraps it and asks TryReusingBlob.
	return &storedLayerDest{ImageDestination: d, stored: r.stored}, nil
}

type storedLayerDest struct {
	types.ImageDestination
	stored func(digest.Digest) (int64, bool)
}

func (d *storedLayerDest) TryReusingBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache, canSubstitute bool) (bool, types.BlobInfo, error) {
	if size, ok := d.stored(info.Digest); ok && (info.Size <= 0 || size <= 0 || info.Size == size) {
		if size <= 0 {
			size = info.Size
		}
		return true, types.BlobInfo{Digest: info.Digest, Size: size}, nil
	}
	return d.ImageDestination.TryReusingBlob(ctx, info, cache, canSubstitute)
}
