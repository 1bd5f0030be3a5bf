// Package engine is the container lifecycle under urun's CLI: it
// registers containers in the state root, runs them in the foreground or
// detached under a supervisor (conmon's role), and starts, stops, waits
// for, attaches to, removes and prunes them. It owns what a container
// keeps on disk besides its state (its writable layer, the image pin, a
// podman-store record) and sweeps what a urun killed at any moment left.
// cmd/urun parses flags and prints; container/ starts processes.
package engine
