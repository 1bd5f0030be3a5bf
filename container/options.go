package container

// Options is what the user asked for on the urun run command line, after flag parsing.
type Options struct {
	// Command is the arguments after IMAGE; empty means the image's Cmd.
	Command []string
	// Entrypoint is --entrypoint: nil keeps the image's, "" removes it, and
	// anything else is one program path or a JSON array such as
	// `["/bin/sh","-c"]`. Overriding it also drops the image's Cmd, as docker does.
	Entrypoint *string
	// Env is -e KEY=VALUE or -e KEY (the value then comes from LookupEnv), in
	// order, with --env-file contents already in front.
	Env []string
	// Workdir is -w; empty means the image's WorkingDir, or "/".
	Workdir string
	// User is -u USER[:GROUP], names or numbers; empty means the image's.
	User string
	// Hostname is --hostname; empty means the first 12 characters of ContainerID.
	Hostname string
	// ContainerID is the container's id, hex as podman's.
	ContainerID string
	// ReadOnly is --read-only: the root filesystem is mounted read-only.
	ReadOnly bool
	// NoReadOnlyTmpfs is --read-only-tmpfs=false: a read-only root gets
	// no writable tmpfs at /tmp, /var/tmp and /run (podman's default is
	// to give them).
	NoReadOnlyTmpfs bool
	// Volumes are raw -v SRC:DST[:OPTIONS] values (see ParseVolume).
	Volumes []string
	// Tmpfs are raw --tmpfs DST[:OPTIONS] values (see ParseTmpfs).
	Tmpfs []string
	// Mounts are raw --mount type=...,KEY=VALUE values (see ParseMount).
	Mounts []string
	// CapAdd and CapDrop are capability names with or without CAP_, any
	// case, or ALL.
	CapAdd, CapDrop []string
	// Privileged gives every capability and drops the masked and read-only
	// paths; /sys is writable.
	Privileged bool
	// Ulimits are raw --ulimit NAME=SOFT[:HARD] values (see ParseUlimit).
	Ulimits []string
	// NofileHard, when not 0 and no --ulimit nofile is given, is the
	// nofile limit, soft and hard: podman's default for a rootless
	// container is the caller's hard limit, at most 1048576.
	NofileHard uint64
	// NoNewPrivileges is --security-opt no-new-privileges.
	NoNewPrivileges bool
	// Tty is -t: the process gets a terminal, and TERM=xterm unless set.
	Tty bool
	// NetworkHost is --network host: no network namespace, and /sys is the
	// host's bound read-only, since sysfs cannot be mounted in a user
	// namespace that does not own the network namespace.
	NetworkHost bool
	// Init is --init: InitPath runs as the process, with the command after
	// "--", as docker's tini.
	Init bool
	// InitPath is the init program's path inside the container.
	InitPath string
	// GroupAdd are --group-add values: group names of the image's
	// /etc/group, or numbers, added to the process's groups.
	GroupAdd []string
	// ShmSize is --shm-size: /dev/shm's size (64m when empty or 0).
	ShmSize string
	// Sysctls are --sysctl KEY=VALUE values (see ParseSysctls).
	Sysctls []string
	// Devices are --device HOST[:CONTAINER][:PERMISSIONS] values (see
	// ParseDevice), bound from the host.
	Devices []string
	// IPCHost and PIDHost are --ipc host and --pid host: no namespace
	// of the container's own; the host's /dev/shm, /dev/mqueue and /proc
	// are bound.
	IPCHost, PIDHost bool
	// Annotations are copied into the spec.
	Annotations map[string]string
}

// LookupEnv reads the host environment for -e KEY; injected so tests are pure.
type LookupEnv func(string) (string, bool)

// ReadFile reads a file of the container's root filesystem (for /etc/passwd and /etc/group); returns an error wrapping fs.ErrNotExist when absent.
type ReadFile func(path string) ([]byte, error)
