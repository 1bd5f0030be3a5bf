package userns

import (
	"fmt"
	"os"
	"time"
)

// mapTimeout bounds how long a child waits for its maps; the parent writes
// them within milliseconds unless a helper hangs (helperTimeout).
const mapTimeout = 30 * time.Second

// ChildConn opens the child's end of the sync socket (SyncFD). The
// descriptor is replaced by a close-on-exec duplicate so it never leaks
// into a program the child executes.
func ChildConn() (*Conn, error) {
	f := os.NewFile(SyncFD, "sync")
	if f == nil {
		return nil, fmt.Errorf("sync descriptor %d is not open: this program is started by urun, not by hand", SyncFD)
	}
	defer f.Close()
	return NewConn(f)
}

// WaitMapped blocks until the parent says the id maps are written. After
// it returns, the process is root in its user namespace and holds its
// capabilities there.
func (c *Conn) WaitMapped() error {
	return c.WaitFor(MsgMapped, mapTimeout, nil)
}
