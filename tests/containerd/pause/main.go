// Command pause is the CRI test's sandbox process (the role of
// registry.k8s.io/pause): it holds the pod's namespaces, reaps the
// orphans of a pod that shares its pid namespace (it is that
// namespace's pid 1), and exits 0 on SIGTERM or SIGINT. Built static
// and imported as an image by tests/containerd/containerd.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
