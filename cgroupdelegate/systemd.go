package cgroupdelegate

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// scopeTimeout bounds the D-Bus exchange with the user's systemd.
const scopeTimeout = 30 * time.Second

// startScope asks the user's systemd manager for a transient scope named
// unit with Delegate=yes and moves this process into it, as podman does:
// a scope needs a process at creation, and urun staying in it means the
// scope dies with urun even when urun is killed (nothing to reap later).
// It returns how long connecting took.
func startScope(addr, unit, description string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scopeTimeout)
	defer cancel()
	start := time.Now()
	conn, err := sd.NewConnection(func() (*dbus.Conn, error) { return dialBus(ctx, addr) })
	if err != nil {
		return 0, fmt.Errorf("connecting to the user's systemd at %s: %w", addr, err)
	}
	defer conn.Close()
	connected := time.Since(start)
	props := []sd.Property{
		sd.PropDescription(description),
		sd.PropPids(uint32(os.Getpid())),
		{Name: "Delegate", Value: dbus.MakeVariant(true)},
		// A failed scope is collected too, so no unit is left behind.
		{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")},
	}
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, unit, "fail", props, done); err != nil {
		return 0, fmt.Errorf("creating systemd scope %s: %w", unit, err)
	}
	select {
	case res := <-done:
		if res != "done" {
			return 0, fmt.Errorf("creating systemd scope %s: job %s", unit, res)
		}
	case <-ctx.Done():
		return 0, fmt.Errorf("creating systemd scope %s: no answer from the user's systemd in %v", unit, scopeTimeout)
	}
	return connected, nil
}

// dialBus opens a private, authenticated connection: the shared session
// connection of godbus would outlive urun's use of it.
func dialBus(ctx context.Context, addr string) (*dbus.Conn, error) {
	c, err := dbus.Dial(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Hello(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
