// Package exec is the one seam through which Nest starts external processes:
// the local host's components, kwok, and (in tests) anything else. A Runner
// either really runs commands (Local) or prints what it would run (DryRun).
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strings"
	"syscall"
)

// Command is one process to start.
type Command struct {
	Path string   // executable
	Args []string // arguments, without the executable
	Env  []string // extra environment, appended to this process's
	Dir  string   // working directory; "" is the current one
	// LogPath receives stdout and stderr of a detached process (appended).
	LogPath string
}

// String renders the command the way a shell user would type it.
func (c Command) String() string {
	parts := append([]string{c.Path}, c.Args...)
	for i, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t\"'$") {
			parts[i] = fmt.Sprintf("%q", p)
		}
	}
	return strings.Join(parts, " ")
}

// RunError is returned when a command run to completion fails; it keeps the
// command and its combined output so the caller can show both.
type RunError struct {
	Command Command
	Output  []byte
	Err     error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("command %q failed: %v: %s", e.Command.String(), e.Err, bytes.TrimSpace(e.Output))
}

func (e *RunError) Unwrap() error { return e.Err }

// Runner starts processes.
type Runner interface {
	// Run runs cmd to completion.
	Run(ctx context.Context, cmd Command) error
	// StartDetached starts cmd in its own session, so that it outlives this
	// process and can be stopped as a group, and returns its pid.
	StartDetached(cmd Command) (int, error)
}

// Local runs commands on this machine.
type Local struct{}

var _ Runner = Local{}

// Run implements Runner.
func (Local) Run(ctx context.Context, cmd Command) error {
	c := osexec.CommandContext(ctx, cmd.Path, cmd.Args...)
	c.Env = append(os.Environ(), cmd.Env...)
	c.Dir = cmd.Dir
	out, err := c.CombinedOutput()
	if err != nil {
		return &RunError{Command: cmd, Output: out, Err: err}
	}
	return nil
}

// StartDetached implements Runner.
func (Local) StartDetached(cmd Command) (int, error) {
	var logFile io.Writer = io.Discard
	if cmd.LogPath != "" {
		f, err := os.OpenFile(cmd.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return 0, fmt.Errorf("open log %s: %w", cmd.LogPath, err)
		}
		defer f.Close()
		logFile = f
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devNull.Close()
	c := osexec.Command(cmd.Path, cmd.Args...)
	c.Env = append(os.Environ(), cmd.Env...)
	c.Dir = cmd.Dir
	c.Stdin = devNull
	c.Stdout = logFile
	c.Stderr = logFile
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", cmd.String(), err)
	}
	pid := c.Process.Pid
	// Reap the child if it exits while we still run, so it never lingers as
	// a zombie that looks alive to Alive.
	go func() { _ = c.Wait() }()
	return pid, nil
}

// DryRun prints every command instead of running it.
type DryRun struct{ Out io.Writer }

var _ Runner = DryRun{}

// Run implements Runner.
func (d DryRun) Run(_ context.Context, cmd Command) error {
	_, err := fmt.Fprintln(d.Out, cmd.String())
	return err
}

// StartDetached implements Runner.
func (d DryRun) StartDetached(cmd Command) (int, error) {
	_, err := fmt.Fprintf(d.Out, "%s >>%s 2>&1 &\n", cmd.String(), cmd.LogPath)
	return 0, err
}

// ErrNotRunning is returned when a process to stop is already gone.
var ErrNotRunning = errors.New("process is not running")
