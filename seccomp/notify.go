package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NotifySupported: this kernel can install a user-notification filter
// for every thread of the init (SECCOMP_FILTER_FLAG_TSYNC_ESRCH with
// NEW_LISTENER, Linux 5.7).
func NotifySupported() bool {
	return kernelAtLeast(5, 7)
}

// NotifyUnsupported says why a profile with SCMP_ACT_NOTIFY cannot run
// here, in runc's words ("seccomp notify unsupported").
func NotifyUnsupported() error {
	var u unix.Utsname
	unix.Uname(&u)
	return fmt.Errorf("seccomp notify unsupported: kernel %s is older than 5.7; fix: drop SCMP_ACT_NOTIFY from the profile, or run on Linux 5.7 or later", unix.ByteSliceToString(u.Release[:]))
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
