package netns

import (
	"os/exec"

	"golang.org/x/sys/unix"
)

// Default picks the mode for a run without --network: pasta when it can
// serve, else slirp4netns, else none (Reason then says why, for a warning).
// Both helpers need a tap device, so /dev/net/tun must be usable.
//
// Any passt that has pasta can serve: urun uses only options passt had by
// 2023-03 (Debian 12's), so finding the program is the whole probe, and
// running it to ask costs more than the probe is worth.
func Default() Mode {
	if err := unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK); err != nil {
		return Mode{Driver: None, Defaulted: true,
			Reason: "/dev/net/tun is not usable (" + err.Error() + "): the container has no network; ask root to run `chmod 0666 /dev/net/tun` (or load the tun module)"}
	}
	if _, err := exec.LookPath("pasta"); err == nil {
		return Mode{Driver: Pasta, Defaulted: true, Reason: "pasta found"}
	}
	if _, err := exec.LookPath("slirp4netns"); err == nil {
		return Mode{Driver: Slirp4netns, Defaulted: true, Reason: "pasta not found (install passt), using slirp4netns"}
	}
	return Mode{Driver: None, Defaulted: true,
		Reason: "neither pasta nor slirp4netns is installed: the container has no network; install one (apt-get install passt)"}
}
