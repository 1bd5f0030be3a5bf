package fuseoverlay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTierRecordKeyed(t *testing.T) {
	data := t.TempDir()
	key := TierKey(data, "", "")
	if _, hit := LoadTier(data, key); hit {
		t.Fatal("a record where none was saved")
	}
	if err := SaveTier(data, TierRecord{Key: key, Tier: Fuse, Why: "probed", By: "test"}); err != nil {
		t.Fatal(err)
	}
	r, hit := LoadTier(data, key)
	if !hit || r.Tier != Fuse || r.Why != "probed" || r.At.IsZero() {
		t.Fatalf("LoadTier = %+v, %v", r, hit)
	}
	// Anything the key covers changing makes the record stale.
	if _, hit := LoadTier(data, TierKey(data, "/nonexistent/fuse-overlayfs", "")); hit {
		t.Error("record used with another fuse-overlayfs")
	}
	if _, hit := LoadTier(data, TierKey(data, "", "/nonexistent/fuse")); hit {
		t.Error("record used with another FUSE device")
	}
	// No temporary files are left.
	if m, _ := filepath.Glob(filepath.Join(data, ".storage-tier-*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}

func TestTierRecordRejectsNonsense(t *testing.T) {
	data := t.TempDir()
	key := TierKey(data, "", "")
	for _, body := range []string{"{", `{"key":"` + strings.ReplaceAll(key, `"`, `\"`) + `","tier":"auto"}`, `{"key":"` + key + `","tier":"bogus"}`} {
		os.WriteFile(filepath.Join(data, TierCacheFile), []byte(body), 0o600)
		if r, hit := LoadTier(data, key); hit {
			t.Errorf("%s: used %+v", body, r)
		}
	}
}

func TestRememberWritesOnlyWhatChanged(t *testing.T) {
	data := t.TempDir()
	key := TierKey(data, "", "")
	line, err := Remember(data, key, TierRecord{}, false, Mounted{Tier: Fuse, Failed: []string{"native: EINVAL"}})
	if err != nil || !strings.Contains(line, "recorded") || !strings.Contains(line, "native: EINVAL") {
		t.Fatalf("Remember = %q, %v", line, err)
	}
	r, hit := LoadTier(data, key)
	if !hit || r.Tier != Fuse || r.By != "run" {
		t.Fatalf("record = %+v, %v", r, hit)
	}
	os.Remove(filepath.Join(data, TierCacheFile))
	line, _ = Remember(data, key, r, true, Mounted{Tier: Fuse})
	if !strings.Contains(line, "as the storage probe says") {
		t.Errorf("Remember with a matching record = %q", line)
	}
	if _, err := os.Stat(filepath.Join(data, TierCacheFile)); !os.IsNotExist(err) {
		t.Error("a matching record was written again")
	}
}

// The ownership answer and the tier's share the record, each under its
// own key: saving one keeps the other.
func TestOwnersRecordKeptWithTier(t *testing.T) {
	data := t.TempDir()
	ok, sub := OwnersKey(data, "0:1000:1"), OwnersKey(data, "0:1000:1,1:100000:65536")
	if err := SaveOwners(data, OwnersRecord{Key: sub, Error: "lchown: operation not permitted", By: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := SaveTier(data, TierRecord{Key: TierKey(data, "", ""), Tier: Fuse, By: "test"}); err != nil {
		t.Fatal(err)
	}
	o, hit := LoadOwners(data, sub)
	if !hit || o.Error == "" || o.At.IsZero() {
		t.Fatalf("LoadOwners after SaveTier = %+v, %v", o, hit)
	}
	if _, hit := LoadOwners(data, ok); hit {
		t.Error("an answer for one mapping used for another")
	}
	if _, hit := LoadTier(data, TierKey(data, "", "")); !hit {
		t.Error("SaveOwners after SaveTier lost the tier")
	}
}
