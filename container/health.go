package container

// Health checks as docker and podman define them: the check's
// configuration (--health-cmd and friends, or the image's HEALTHCHECK),
// and the state machine its results drive (moby's daemon/health.go,
// podman's libpod/healthcheck.go). Pure: the runner that execs the
// check inside the container is engine/health.go.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Health statuses (docker's and podman's words).
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	// HealthNone is ps --filter health=none: no health check.
	HealthNone = "none"
)

// Docker's defaults for what a check leaves unset, and its limits.
const (
	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 30 * time.Second
	DefaultHealthRetries  = 3
	// HealthLogEntries is how many results are kept (docker: 5).
	HealthLogEntries = 5
	// HealthOutputMax is how much of a check's output is kept; more is
	// cut and marked "..." (docker's maxOutputLen).
	HealthOutputMax = 4096
)

// The actions of podman's --health-on-failure.
const (
	HealthActionNone    = "none"
	HealthActionKill    = "kill"
	HealthActionRestart = "restart"
	HealthActionStop    = "stop"
)

// HealthConfig is a container's health check. Test is docker's form:
// ["CMD", ARG...] (run as given) or ["CMD-SHELL", COMMAND] (run by
// /bin/sh -c). Interval 0 runs no periodic check (`--health-interval
// disable`): only `urun healthcheck run`.
type HealthConfig struct {
	Test        []string      `json:"test"`
	Interval    time.Duration `json:"interval,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	StartPeriod time.Duration `json:"startPeriod,omitempty"`
	Retries     int           `json:"retries,omitempty"`
	// OnFailure is --health-on-failure: what happens when the container
	// turns unhealthy (empty: none).
	OnFailure string `json:"onFailure,omitempty"`
}

// Command is the argv the check execs in the container.
func (c *HealthConfig) Command() []string {
	if c == nil || len(c.Test) < 2 {
		return nil
	}
	switch strings.ToUpper(c.Test[0]) {
	case "CMD":
		return c.Test[1:]
	case "CMD-SHELL":
		return []string{"/bin/sh", "-c", strings.Join(c.Test[1:], " ")}
	}
	return nil
}

// HealthResult is one check's outcome, as docker's inspect shows it.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Health is a container's health as inspect shows it.
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// Record adds a check's result with docker's rules: a pass makes the
// container healthy and ends the failing streak; a failure counts,
// except while the container is starting within its start period, and
// retries failures in a row make it unhealthy. turnedUnhealthy says
// this result made it so (the moment --health-on-failure acts).
func (h *Health) Record(r HealthResult, c *HealthConfig, startedAt time.Time) (turnedUnhealthy bool) {
	before := h.Status
	if h.Status == "" {
		h.Status = HealthStarting
	}
	h.Log = append(h.Log, r)
	if n := len(h.Log); n > HealthLogEntries {
		h.Log = append([]HealthResult(nil), h.Log[n-HealthLogEntries:]...)
	}
	if r.ExitCode == 0 {
		h.Status, h.FailingStreak = HealthHealthy, 0
		return false
	}
	if h.Status == HealthStarting && r.Start.Sub(startedAt) < c.StartPeriod {
		return false // still starting: failures do not count yet
	}
	h.FailingStreak++
	retries := c.Retries
	if retries <= 0 {
		retries = DefaultHealthRetries
	}
	if h.FailingStreak >= retries {
		h.Status = HealthUnhealthy
	}
	return h.Status == HealthUnhealthy && before != HealthUnhealthy
}

// TruncateHealthOutput keeps what docker keeps of a check's output.
func TruncateHealthOutput(b []byte) string {
	if len(b) > HealthOutputMax {
		return string(b[:HealthOutputMax]) + "..."
	}
	return string(b)
}

// ParseHealthCmd reads --health-cmd: a JSON array (["CMD", ARG...],
// ["CMD-SHELL", "COMMAND"], ["NONE"], or a bare argv of two or more
// words), "none", or else a shell command. nil, nil: no check.
func ParseHealthCmd(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New(`--health-cmd is empty: give a command, or "none" for no health check`)
	}
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return nil, nil
	}
	if !strings.HasPrefix(strings.TrimSpace(s), "[") {
		return []string{"CMD-SHELL", s}, nil
	}
	var arr []string
	if err := json.Unmarshal([]byte(s), &arr); err != nil {
		// Not JSON: a shell command such as `[ -e /tmp/ready ]`
		// (docker's --health-cmd is always one).
		return []string{"CMD-SHELL", s}, nil
	}
	if len(arr) == 0 {
		return nil, fmt.Errorf("--health-cmd %s: the array is empty", s)
	}
	switch strings.ToUpper(arr[0]) {
	case "NONE":
		return nil, nil
	case "CMD", "CMD-SHELL":
		if len(arr) < 2 || arr[1] == "" {
			return nil, fmt.Errorf("--health-cmd %s: %s needs a command after it", s, arr[0])
		}
		arr[0] = strings.ToUpper(arr[0])
		return arr, nil
	}
	if len(arr) == 1 {
		return []string{"CMD-SHELL", arr[0]}, nil
	}
	return append([]string{"CMD"}, arr...), nil
}

// ParseHealthDuration reads a --health-* duration (Go's form: 30s,
// 1m30s); with allowDisable, "disable" is 0.
func ParseHealthDuration(flag, s string, allowDisable bool) (time.Duration, error) {
	if allowDisable && s == "disable" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: not a duration: use e.g. 30s, 1m30s", flag, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("--%s %q: must not be negative", flag, s)
	}
	return d, nil
}

// ParseHealthOnFailure reads --health-on-failure.
func ParseHealthOnFailure(s string) (string, error) {
	switch s {
	case "", HealthActionNone:
		return "", nil
	case HealthActionKill, HealthActionRestart, HealthActionStop:
		return s, nil
	}
	return "", fmt.Errorf("--health-on-failure %q: use none, kill, restart or stop", s)
}

// ImageHealthcheck is the HEALTHCHECK of an image's config (docker's
// config.Healthcheck; an OCI config written by BuildKit keeps it too):
// durations in nanoseconds, 0 meaning the default.
type ImageHealthcheck struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// ParseImageHealthcheck reads an image config's Healthcheck object;
// nil when there is none.
func ParseImageHealthcheck(raw []byte) (*ImageHealthcheck, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var h ImageHealthcheck
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("the image's HEALTHCHECK: %w", err)
	}
	return &h, nil
}

// HealthFlags are the run/create flags of a health check, as given.
// Changed* say which were set on the command line.
type HealthFlags struct {
	Cmd, Interval, Timeout, StartPeriod, OnFailure string
	Retries                                        int
	NoHealthcheck                                  bool
	CmdSet, IntervalSet, TimeoutSet, StartSet      bool
	RetriesSet                                     bool
}

// ResolveHealth combines the image's HEALTHCHECK with the flags (each
// flag given overrides the image's value, as docker's and podman's) and
// fills docker's defaults; nil: the container has no health check.
func ResolveHealth(img *ImageHealthcheck, f HealthFlags) (*HealthConfig, error) {
	action, err := ParseHealthOnFailure(f.OnFailure)
	if err != nil {
		return nil, err
	}
	if f.NoHealthcheck && f.CmdSet {
		return nil, errors.New("--no-healthcheck and --health-cmd conflict: give one of them")
	}
	c := &HealthConfig{OnFailure: action}
	intervalSet := false
	if img != nil {
		c.Test, c.Interval, c.Timeout, c.StartPeriod, c.Retries = img.Test, img.Interval, img.Timeout, img.StartPeriod, img.Retries
		if len(c.Test) > 0 && strings.EqualFold(c.Test[0], "NONE") {
			c.Test = nil
		}
	}
	if f.CmdSet {
		if c.Test, err = ParseHealthCmd(f.Cmd); err != nil {
			return nil, err
		}
	}
	if f.NoHealthcheck || len(c.Test) == 0 {
		return nil, nil
	}
	if f.IntervalSet {
		if c.Interval, err = ParseHealthDuration("health-interval", f.Interval, true); err != nil {
			return nil, err
		}
		intervalSet = true
	}
	if f.TimeoutSet {
		if c.Timeout, err = ParseHealthDuration("health-timeout", f.Timeout, false); err != nil {
			return nil, err
		}
		if c.Timeout < time.Second {
			return nil, fmt.Errorf("--health-timeout %q: must be at least 1s", f.Timeout)
		}
	}
	if f.StartSet {
		if c.StartPeriod, err = ParseHealthDuration("health-start-period", f.StartPeriod, false); err != nil {
			return nil, err
		}
	}
	if f.RetriesSet {
		if f.Retries < 1 {
			return nil, fmt.Errorf("--health-retries %d: must be 1 or more", f.Retries)
		}
		c.Retries = f.Retries
	}
	if c.Interval == 0 && !intervalSet {
		c.Interval = DefaultHealthInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultHealthTimeout
	}
	if c.Retries <= 0 {
		c.Retries = DefaultHealthRetries
	}
	if c.Command() == nil {
		return nil, fmt.Errorf("health check %q: the test must start with CMD or CMD-SHELL and name a command", c.Test)
	}
	return c, nil
}
