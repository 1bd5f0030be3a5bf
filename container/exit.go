package container

// Exit statuses for urun's own failures, as podman and docker use them.
const (
	// ExitRuntime: urun itself failed (bad input, host set-up, setup error).
	ExitRuntime = 125
	// ExitNotExecutable: the command exists but cannot be executed.
	ExitNotExecutable = 126
	// ExitNotFound: the command was not found.
	ExitNotFound = 127
)

// CodedError is an error that decides the exit status.
type CodedError struct {
	Code int
	Err  error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// ExitCode is the status urun should exit with.
func (e *CodedError) ExitCode() int { return e.Code }
