package netns

import (
	"os/exec"

	"golang.org/x/sys/unix"
)

// Default picks the mode for a run without --network: with no published
// ports slirp4netns, else pasta;
// whichever is installed when only one is; none when neither can serve
// (Reason then says why, for a warning). Both helpers need a tap device,
// so /dev/net/tun must be usable.
//
// Why two defaults (docs/NETWORK.md, docs/BENCHMARKS.md B2-net): the two
// give the container the same addresses, routes and DNS, but Debian 12's
// pasta (2023-03) takes ~30-40 ms to start (socket pools, buffer probes,
// its sandbox) where slirp4netns takes less than urun-init's own set-up,
// and slirp4netns is faster from the container out (B7); published ports
// are ~3x faster through pasta, and keep the client's address.
//
// Any passt that has pasta can serve: urun uses only options passt had by
// 2023-03 (Debian 12's), so finding the program is the whole probe, and
// running it to ask costs more than the probe is worth.
func Default(publish bool) Mode {
	if err := unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK); err != nil {
		return Mode{Driver: None, Defaulted: true,
			Reason: "/dev/net/tun is not usable (" + err.Error() + "): the container has no network; ask root to run `chmod 0666 /dev/net/tun` (or load the tun module)"}
	}
	_, perr := exec.LookPath("pasta")
	_, serr := exec.LookPath("slirp4netns")
	switch {
	case perr == nil && serr == nil && publish:
		return Mode{Driver: Pasta, Defaulted: true, Reason: "ports are published: pasta (faster forwarding, keeps client addresses)"}
	case perr == nil && serr == nil:
		return Mode{Driver: Slirp4netns, Defaulted: true, Reason: "no ports published: slirp4netns (starts faster than pasta; with -p pasta is used)"}
	case perr == nil:
		return Mode{Driver: Pasta, Defaulted: true, Reason: "pasta found (slirp4netns is not installed)"}
	case serr == nil:
		return Mode{Driver: Slirp4netns, Defaulted: true, Reason: "pasta not found (install passt), using slirp4netns"}
	}
	return Mode{Driver: None, Defaulted: true,
		Reason: "neither pasta nor slirp4netns is installed: the container has no network; install one (apt-get install passt slirp4netns)"}
}
