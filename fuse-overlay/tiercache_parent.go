package fuseoverlay

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The storage tier is probed once and cached, so `urun run`, `urun info`
// and `urun doctor` give one answer (issue 19): doctor and info probe
// (kernel overlayfs, then fuse-overlayfs, mounted in the data directory
// inside a user namespace) and record the result; run reads the record
// and has its container start at that tier, and when a container mounts
// another one (the record was stale, or there was none), run records
// what the container actually used. The record is valid only for the
// key it was made under: what the answer depends on and can change
// without urun noticing.

// TierCacheFile is the record's name in the data directory.
const TierCacheFile = "storage-tier.json"

// TierRecord is one probe's answer.
type TierRecord struct {
	// Key is TierKey at the time of the probe.
	Key string `json:"key"`
	// Tier is what auto uses: native, fuse or copy.
	Tier Tier `json:"tier"`
	// Why explains the answer, in words for info and doctor.
	Why string `json:"why"`
	// By is who probed: "doctor", "info" or "run" (a container's mount).
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Owners is the ownership probe's answer, kept under its own key.
	Owners *OwnersRecord `json:"owners,omitempty"`
}

// OwnersRecord says whether files owned by a mapping's ids (not only the
// user's own) can be stored in the data directory: not on a FUSE
// filesystem whose server runs as the user (sshfs, a user's
// fuse-overlayfs) nor on NFS, where the server or the client refuses a
// chown a user namespace's root asks for.
type OwnersRecord struct {
	// Key is OwnersKey at the time of the probe.
	Key string `json:"key"`
	// Error is why not; empty when they can be stored.
	Error string    `json:"error,omitempty"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// OwnersKey is what the ownership answer depends on: the filesystem and
// device the data directory is on, the user and the id mapping.
func OwnersKey(data, mapping string) string {
	var sfs unix.Statfs_t
	unix.Statfs(data, &sfs)
	var st unix.Stat_t
	unix.Stat(data, &st)
	return fmt.Sprintf("fs=%#x dev=%d uid=%d map=%s", sfs.Type, st.Dev, os.Getuid(), mapping)
}

// LoadOwners returns the ownership answer in data when it was made under key.
func LoadOwners(data, key string) (OwnersRecord, bool) {
	r := readRecord(data)
	if r.Owners == nil || r.Owners.Key != key {
		return OwnersRecord{}, false
	}
	return *r.Owners, true
}

// SaveOwners records the ownership answer next to the tier's.
func SaveOwners(data string, o OwnersRecord) error {
	if o.At.IsZero() {
		o.At = time.Now().UTC()
	}
	r := readRecord(data)
	r.Owners = &o
	return writeRecord(data, r)
}

// readRecord is the record in data as it is, valid or not.
func readRecord(data string) TierRecord {
	var r TierRecord
	if b, err := os.ReadFile(filepath.Join(data, TierCacheFile)); err == nil {
		json.Unmarshal(b, &r)
	}
	return r
}

// TierKey is what the tier depends on: the kernel, the filesystem and
// device the data directory is on, the fuse-overlayfs program (path,
// size, modification time), whether the FUSE device opens, and the user.
// fuseDev is the device to check ("" for /dev/fuse).
func TierKey(data, fuseBin, fuseDev string) string {
	fuse := "none"
	if fuseBin != "" {
		var fst unix.Stat_t
		if unix.Stat(fuseBin, &fst) == nil {
			fuse = fmt.Sprintf("%s:%d:%d", fuseBin, fst.Size, fst.Mtim.Nano())
		} else {
			fuse = fuseBin + ":missing"
		}
	}
	if fuseDev == "" {
		fuseDev = "/dev/fuse"
	}
	dev := "ok"
	if unix.Access(fuseDev, unix.R_OK|unix.W_OK) != nil {
		dev = "no"
	}
	return fmt.Sprintf("%s fuse-overlayfs=%s %s=%s", HostKey(data), fuse, fuseDev, dev)
}

// HostKey is what every probe of the data directory depends on: the
// kernel, the filesystem and device data is on, and the user (the
// start of TierKey; hostcheck's idmapped-lower probe keys on it too).
func HostKey(data string) string {
	var u unix.Utsname
	unix.Uname(&u)
	var sfs unix.Statfs_t
	unix.Statfs(data, &sfs)
	var st unix.Stat_t
	unix.Stat(data, &st)
	return fmt.Sprintf("kernel=%s fs=%#x dev=%d uid=%d", unix.ByteSliceToString(u.Release[:]), sfs.Type, st.Dev, os.Getuid())
}

// LoadTier returns the record in data when it was made under key.
func LoadTier(data, key string) (TierRecord, bool) {
	var r TierRecord
	b, err := os.ReadFile(filepath.Join(data, TierCacheFile))
	if err != nil || json.Unmarshal(b, &r) != nil || r.Key != key {
		return TierRecord{}, false
	}
	if _, err := ParseTier(string(r.Tier)); err != nil || r.Tier == Auto || r.Tier == Bind {
		return TierRecord{}, false
	}
	return r, true
}

// SaveTier replaces the tier's record in data, keeping the ownership
// answer (atomically: readers see the old record or the new one).
func SaveTier(data string, r TierRecord) error {
	if r.At.IsZero() {
		r.At = time.Now().UTC()
	}
	if r.Owners == nil {
		r.Owners = readRecord(data).Owners
	}
	return writeRecord(data, r)
}

func writeRecord(data string, r TierRecord) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(data, ".storage-tier-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(data, TierCacheFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// Mounted is what a container's init reports after mounting its rootfs:
// the tier it used and, for auto, why the ones before it failed.
type Mounted struct {
	Tier   Tier     `json:"tier"`
	Failed []string `json:"failed,omitempty"`
}

// Remember records the tier a container mounted under auto when the
// record says otherwise (or there is none). It returns the line --debug
// prints about it.
func Remember(data, key string, cached TierRecord, hit bool, m Mounted) (string, error) {
	if hit && cached.Tier == m.Tier {
		return fmt.Sprintf("rootfs tier %s, as the storage probe says (%s, by %s at %s): %s",
			m.Tier, filepath.Join(data, TierCacheFile), cached.By, cached.At.Format(time.RFC3339), cached.Why), nil
	}
	why := "the first container here mounted it"
	if len(m.Failed) > 0 {
		why = "a container mounted it after " + strings.Join(m.Failed, "; ")
	}
	if hit {
		why += fmt.Sprintf(" (the record said %s)", cached.Tier)
	}
	err := SaveTier(data, TierRecord{Key: key, Tier: m.Tier, Why: why, By: "run"})
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return fmt.Sprintf("rootfs tier %s, recorded in %s: %s", m.Tier, filepath.Join(data, TierCacheFile), why), err
}
