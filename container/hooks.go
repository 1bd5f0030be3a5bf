package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hooks of the OCI lifecycle (runtime-spec config.md, "POSIX-platform
// Hooks"). Each runs with the container's state as JSON on its stdin, its
// own args (args[0] is its argv[0]) and env, and, when it has a timeout,
// is killed after that many seconds. Where each kind runs:
//   - createRuntime: `create`, on the host, once the init is set up.
//   - createContainer: the init, in the container's namespaces, after
//     its mounts and before pivot_root (the path is the host's).
//   - prestart: `start`, on the host, before the process runs (the
//     runtime-tools suite checks they wait for start).
//   - startContainer: the init, inside the container, before the exec.
//   - poststart: `start`, on the host, after the process started; a
//     failure is only a warning.
//   - poststop: `delete`, on the host, after the container is gone; a
//     failure is only a warning.
// A failing hook of the first four kinds fails the operation and the
// container is removed (the lifecycle goes on at delete).

// hookOutputMax bounds what a failing hook's output adds to the error.
const hookOutputMax = 512

// RunHooks runs hooks in order and stops at the first failure.
func RunHooks(kind string, hooks []specs.Hook, state *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	in, err := json.Marshal(state)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, in); err != nil {
			return fmt.Errorf("error running hook #%d (%s, %s): %w", i, kind, h.Path, err)
		}
	}
	return nil
}

func runHook(h specs.Hook, stdin []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout %d: must be more than 0 seconds", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// A hook that leaves a child holding its output must not hang us.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("killed after its timeout of %ds", *h.Timeout)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		err = fmt.Errorf("exit status %d", ee.ExitCode())
	}
	if o := strings.TrimSpace(out.String()); o != "" {
		if len(o) > hookOutputMax {
			o = o[:hookOutputMax] + "…"
		}
		err = fmt.Errorf("%w: %s", err, o)
	}
	return err
}

// hooksOf returns the spec's hooks of one kind.
func hooksOf(spec *specs.Spec, kind string) []specs.Hook {
	if spec == nil || spec.Hooks == nil {
		return nil
	}
	h := spec.Hooks
	switch kind {
	case "prestart":
		//lint:ignore SA1019 deprecated in the spec, still sent by podman and the suite
		return h.Prestart
	case "createRuntime":
		return h.CreateRuntime
	case "createContainer":
		return h.CreateContainer
	case "startContainer":
		return h.StartContainer
	case "poststart":
		return h.Poststart
	case "poststop":
		return h.Poststop
	}
	return nil
}

// warnHooks runs hooks whose failure is only a warning (poststart,
// poststop): every one runs, whatever the others did.
func warnHooks(kind string, spec *specs.Spec, state *specs.State) {
	for i, h := range hooksOf(spec, kind) {
		if err := RunHooks(kind, []specs.Hook{h}, state); err != nil {
			fmt.Fprintf(os.Stderr, "urun: warning: %s hook %d failed, going on: %v\n", kind, i, err)
		}
	}
}
