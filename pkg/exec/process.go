package exec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Alive reports whether pid is a live process whose command line contains
// marker. The marker guards against pid reuse: a recycled pid running some
// other program is not ours.
func Alive(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	if isZombie(pid) {
		// The main thread has exited; the process is over once its other
		// threads have too, which is when its files (locks) are closed.
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		return len(tasks) > 1
	}
	if len(cmdline) == 0 {
		// Just exec'd, or dying: its memory is gone but its files (locks,
		// sockets) may still be open. Either way it is not over yet,
		// unless it was reaped since cmdline was read (then isZombie
		// found no stat either).
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return err == nil
	}
	return marker == "" || bytes.Contains(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}), []byte(marker))
}

// isZombie reports whether pid has exited but is not yet reaped.
func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3, after the parenthesised command name, is the state.
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// Terminate stops the process group led by pid: SIGTERM, then SIGKILL after
// grace. It returns ErrNotRunning if the process was already gone.
func Terminate(pid int, marker string, grace time.Duration) error {
	if !Alive(pid, marker) {
		return ErrNotRunning
	}
	signalGroup(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !Alive(pid, marker) {
			signalGroup(pid, syscall.SIGKILL) // children left behind, if any
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	signalGroup(pid, syscall.SIGKILL)
	for i := 0; i < 100 && Alive(pid, marker); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if Alive(pid, marker) {
		return fmt.Errorf("process %d survived SIGKILL", pid)
	}
	return nil
}

func signalGroup(pid int, sig syscall.Signal) {
	// Detached processes lead their own session and group; signal the group
	// so their children stop too, and fall back to the process itself.
	if err := syscall.Kill(-pid, sig); err != nil {
		_ = syscall.Kill(pid, sig)
	}
}

// ReadPIDFile returns the pid stored in path, 0 if the file does not exist.
func ReadPIDFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file %s: %w", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s is corrupt (%q); remove it if no such process runs", path, data)
	}
	return pid, nil
}

// WritePIDFile stores pid in path.
func WritePIDFile(path string, pid int) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write pid file %s: %w", path, err)
	}
	return nil
}

// TailLog returns the last n lines of a process log, for error messages.
func TailLog(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "last lines of " + path + ":\n  " + strings.Join(lines, "\n  ")
}

// LastError returns the message of the last "ERROR: " line a nest process
// wrote to its log before exiting (see pkg/cmd/app), or "".
func LastError(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	i := strings.LastIndex(string(data), "\nERROR: ")
	if i < 0 {
		return ""
	}
	msg, _, _ := strings.Cut(string(data[i+len("\nERROR: "):]), "\n")
	return msg
}

// NestBinaryEnvVar names the nest binary that starts Nest's child processes
// (control planes, host components), when it is not the running program:
// tests set it, since a test binary must never start copies of itself.
const NestBinaryEnvVar = "NEST_BINARY"

// NestBinary returns $NEST_BINARY, or the running executable.
func NestBinary() (string, error) {
	if p := os.Getenv(NestBinaryEnvVar); p != "" {
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the nest executable: %w", err)
	}
	return self, nil
}
