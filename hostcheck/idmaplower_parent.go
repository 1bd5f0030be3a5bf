package hostcheck

// The idmapped-lower-layer probe (docs/STORE.md "Another id mapping"):
// can an ordinary user idmap a directory of the layer store and stack it
// under kernel overlayfs? Where it can, a run with another id mapping
// (--userns=keep-id) could share the layer store's files instead of
// unpacking its own copy. doctor and info probe and record the answer;
// run reads the record (probing once when there is none) to explain
// why it copies.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	fuseoverlay "github.com/urun-dev/urun/fuse-overlay"
)

// IdmapLowerCacheFile is the record's name in the data directory.
const IdmapLowerCacheFile = "idmap-lower.json"

// IdmapLowerRecord is one probe's answer, valid under Key.
type IdmapLowerRecord struct {
	Key   string    `json:"key"`
	Probe Probe     `json:"probe"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// IdmapLowerKey is what the answer depends on: the kernel, the user and
// the filesystem and device the data directory is on.
func IdmapLowerKey(data string) string {
	return fuseoverlay.HostKey(data) + " data=" + filepath.Clean(data)
}

// ProbeIdmapLower runs the probe for real: exe's ProbeCommand in a user
// namespace (the user's own id) with a mount namespace, on directories
// in data.
func ProbeIdmapLower(exe, data string) Probe {
	start := time.Now()
	err := withLayers(data, func(dir string) error {
		if err := os.Mkdir(filepath.Join(dir, "idmapped"), 0o755); err != nil {
			return err
		}
		u, g := single()
		_, _, err := runProbe(exe, probeRequest{Kind: kindIdmap, Dir: dir}, u, g, false, 0)
		return err
	})
	return probeResult(start, err)
}

// SaveIdmapLower records p for data; it returns the record's path.
func SaveIdmapLower(data string, p Probe, by string) (string, error) {
	b, err := json.Marshal(IdmapLowerRecord{Key: IdmapLowerKey(data), Probe: p, By: by, At: time.Now().UTC()})
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(data, ".idmap-lower-")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	path := filepath.Join(data, IdmapLowerCacheFile)
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}

// IdmapLower is the recorded answer for data when its key still holds;
// otherwise it probes with exe and records what it found (by "run").
func IdmapLower(exe, data string) (p Probe, cached bool) {
	if b, err := os.ReadFile(filepath.Join(data, IdmapLowerCacheFile)); err == nil {
		var r IdmapLowerRecord
		if json.Unmarshal(b, &r) == nil && r.Key == IdmapLowerKey(data) && r.Probe.Ran {
			return r.Probe, true
		}
	}
	p = ProbeIdmapLower(exe, data)
	if p.Ran {
		SaveIdmapLower(data, p, "run")
	}
	return p, false
}

// IdmapLowerWhy is the answer in words, for info, doctor and run's
// --debug: what a run with another id mapping does about it.
func IdmapLowerWhy(p Probe) string {
	switch {
	case !p.Ran:
		return "not probed (" + p.Skipped + "); a run with another id mapping (--userns=keep-id) unpacks its own copy of the image"
	case p.OK:
		return "the kernel lets you idmap a layer store directory under overlayfs; urun does not use it yet: a run with another id mapping (--userns=keep-id) unpacks its own copy of the image"
	}
	why := p.Error
	if p.Errno != "" {
		why = p.Errno + ": " + why
	}
	return "the kernel refuses you an idmapped lower layer (" + why + "): a run with another id mapping (--userns=keep-id) unpacks its own copy of the image's layers"
}
