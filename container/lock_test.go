package container

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// Lockers racing with holders that remove the container (and so its lock
// file, at unlock) never hold the lock at once, and no lock file is left
// once the container is gone.
func TestLockExclusiveAcrossRemoval(t *testing.T) {
	root := t.TempDir()
	const id = "c1"
	var inside atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				unlock, err := Lock(root, id)
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					t.Error("two holders of one container lock")
				}
				if i%2 == 0 {
					os.Mkdir(Dir(root, id), 0o700)
				} else {
					os.RemoveAll(Dir(root, id))
				}
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	os.RemoveAll(Dir(root, id))
	if unlock, ok := TryLock(root, id); !ok {
		t.Fatal("TryLock of a free lock failed")
	} else {
		unlock()
	}
	if _, err := os.Stat(Dir(root, id) + ".lock"); !os.IsNotExist(err) {
		t.Errorf("lock file left after its container went: %v", err)
	}
}
