package container

import (
	"errors"
	"fmt"
)

// Exit statuses for urun's own failures, as podman and docker use them.
const (
	// ExitRuntime: urun itself failed (bad input, host set-up, setup error).
	ExitRuntime = 125
	// ExitNotExecutable: the command exists but cannot be executed.
	ExitNotExecutable = 126
	// ExitNotFound: the command was not found.
	ExitNotFound = 127
)

// CodedError is an error that decides the exit status: urun's own
// failure (Err says why), or with Err nil the container's status, passed
// through silently.
type CodedError struct {
	Code int
	Err  error
}

func (e *CodedError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *CodedError) Unwrap() error { return e.Err }

// ExitCode is the status urun should exit with.
func (e *CodedError) ExitCode() int { return e.Code }

// ExitStatus is the container's own status as an error: urun exits with
// it and prints nothing (the container said what it had to).
func ExitStatus(code int) error { return &CodedError{Code: code} }

// ExitCode is the status urun exits with for err: the one it carries
// (a *CodedError, or any error with a non-zero ExitCode), else 125.
func ExitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return ExitRuntime
}
