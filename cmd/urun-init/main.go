// Command urun-init is the first process of every urun container. urun
// starts it in the container's new namespaces; it mounts the root
// filesystem, switches into it and executes the container's process in
// place. It is kept small (no image or storage code) because every
// container start pays for its start-up; see DESIGN.md. With the argument
// __exec it runs a further process in a running container (urun exec).
package main

import (
	"os"
	"runtime"

	"github.com/urun-dev/urun/container"
)

// The init's work runs on the main thread, the thread group leader: the
// parent-death signal is a per-thread setting that the clone gave the
// leader only, so clearing it (create) or relying on it (run) works only
// from there, and execve from the leader keeps it.
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) > 1 && os.Args[1] == container.ExecArg {
		os.Exit(container.JoinMain())
	}
	if len(os.Args) > 1 && os.Args[1] == container.ShmTreeArg {
		os.Exit(container.ShmTreeMain())
	}
	if len(os.Args) > 1 && os.Args[1] == container.JoinStageArg {
		os.Exit(container.JoinStageMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "--" {
		// run --init: a small pid 1 in front of the process.
		os.Exit(container.TinyInitMain(os.Args[2:]))
	}
	os.Exit(container.InitMain())
}
