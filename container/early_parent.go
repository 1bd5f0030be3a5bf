package container

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/urun-dev/urun/userns"
)

// EarlyInit is a container's init cloned before the container is set up
// on the host: as soon as its namespaces and id maps are known, urun-init
// and newuidmap/newgidmap start (~6 ms on this project's machine) while
// urun finds the image's layers, builds the spec, registers the container
// and makes its writable layer. The init waits for its config as it does
// after a late clone. Run takes it over (RunConfig.Early) when the final
// spec asks for the same clone; Abort ends it on any error before that.
// Nothing of it is on the host: no state, no mount, no file.
type EarlyInit struct {
	// cloned delivers the clone's outcome once: the fork and the
	// init's execve (~2 ms) happen on a goroutine of their own, so the
	// caller goes on at once.
	cloned  chan cloneResult
	ucfg    userns.Config
	initBin *os.File
	// stdin is RunConfig.Stdin as given (the init has none of its own
	// with a terminal: the pty relay reads this).
	stdin   *os.File
	start   time.Time
	cloneAt int64
	taken   bool
}

// StartEarly clones cfg's init from the part of cfg.Spec that decides
// the clone (Linux.Namespaces, the id mappings, Process.Terminal) and
// starts writing its id maps. Run later compares the final spec's clone
// with it.
func StartEarly(cfg RunConfig) (*EarlyInit, error) {
	initBin, err := OpenInit(cfg.InitPath)
	if err != nil {
		return nil, err
	}
	e := cloneAsync(initUsernsConfig(cfg, initBin), initBin, cfg.Debug, " (early)")
	e.stdin = cfg.Stdin
	return e, nil
}

// cloneAsync clones ucfg's child on a goroutine and returns at once;
// initBin (the program ucfg executes) is closed once the clone is
// taken or aborted. debug traces the clone and the maps, marked with
// tag.
func cloneAsync(ucfg userns.Config, initBin *os.File, debug bool, tag string) *EarlyInit {
	e := &EarlyInit{initBin: initBin, start: time.Now(), ucfg: ucfg}
	if debug {
		e.cloneAt = monotonicNow()
		e.ucfg.Trace = func(event string) { fmt.Fprintf(os.Stderr, "urun: %-14s %6.2f ms%s\n", event, msSince(e.start), tag) }
	}
	e.cloned = make(chan cloneResult, 1)
	go func() {
		p, err := userns.Clone(e.ucfg)
		e.cloned <- cloneResult{p, err}
	}()
	return e
}

// wait takes the clone, mapped: its child, or the error of the clone or
// of the id-map helpers (the child then is gone).
func (e *EarlyInit) wait() (*userns.Child, error) {
	e.taken = true
	r := <-e.cloned
	e.initBin.Close()
	if r.err != nil {
		return nil, r.err
	}
	return r.pending.Wait()
}

type cloneResult struct {
	pending *userns.Pending
	err     error
}

// Stdin is the container's stdin StartEarly was given: the run's
// RunConfig.Stdin must be this one.
func (e *EarlyInit) Stdin() *os.File { return e.stdin }

// Abort kills and reaps the init unless Run took it; a nil e does
// nothing. Callers defer it where they made it.
func (e *EarlyInit) Abort() {
	if e == nil || e.taken {
		return
	}
	e.taken = true
	if r := <-e.cloned; r.err == nil {
		r.pending.Abort()
	}
	e.initBin.Close()
}

// take hands the init to Run when want, the clone Run would make now,
// is the one it was made with; otherwise it is aborted (nil, and Run
// clones its own). A clone that failed is nil too: Run's own clone then
// fails where it always did, and says why.
func (e *EarlyInit) take(want userns.Config) *userns.Pending {
	if e == nil || e.taken {
		return nil
	}
	if !sameClone(e.ucfg, want) {
		e.Abort()
		return nil
	}
	e.taken = true
	r := <-e.cloned
	e.initBin.Close() // executed: the clone returned after its execve
	return r.pending
}

// sameClone reports whether two inits are cloned alike: the same
// namespaces, maps, cgroup, stdio and session.
func sameClone(a, b userns.Config) bool {
	return a.Cloneflags == b.Cloneflags && a.NoNewUser == b.NoNewUser && a.UseHelpers == b.UseHelpers &&
		slices.Equal(a.UIDMap, b.UIDMap) && slices.Equal(a.GIDMap, b.GIDMap) &&
		a.PIDNamespace == b.PIDNamespace && !a.UseCgroupFD && !b.UseCgroupFD &&
		a.Setsid == b.Setsid && a.Setctty == b.Setctty &&
		a.Stdin == b.Stdin && a.Stdout == b.Stdout && a.Stderr == b.Stderr &&
		slices.Equal(a.Env, b.Env)
}
