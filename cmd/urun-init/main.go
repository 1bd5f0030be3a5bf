// Command urun-init is the first process of every urun container. urun
// starts it in the container's new namespaces; it mounts the root
// filesystem, switches into it and executes the container's process in
// place. It is kept small (no image or storage code) because every
// container start pays for its start-up; see DESIGN.md.
package main

import (
	"os"

	"github.com/urun-dev/urun/container"
)

func main() {
	os.Exit(container.InitMain())
}
