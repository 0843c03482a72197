// Package testpg starts a real PostgreSQL server for tests, from Debian's
// postgresql package: the Postgres datastore of virtual clusters and the
// hub's Postgres store are tested against it, never against a fake.
package testpg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/ports"
)

// Start runs a throwaway PostgreSQL server from Debian's packages (which
// `make test` installs) for one test, and returns its URL
// (postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable). The server
// stops when the test's clean-ups run; register it before anything that
// must still reach it while cleaning up (t.Cleanup is LIFO).
func Start(t testing.TB) string {
	t.Helper()
	url, stop, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// StartServer is Start for programs without a *testing.T (the benchmarks):
// stop stops the server and removes its files.
func StartServer() (url string, stop func(), err error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		return "", nil, errors.New("PostgreSQL is not installed: `make test` installs Debian's postgresql package (apt-get install postgresql)")
	}
	sort.Strings(bins)
	binDir := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "nest-postgres-")
	if err != nil {
		return "", nil, err
	}
	var cleanups []func()
	stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		cleanups = nil
	}
	fail := func(err error) (string, func(), error) {
		stop()
		return "", nil, err
	}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: run it as the postgres user then.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("running as root needs the postgres user: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(binDir, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setsid: true}
		cmd.Dir = dir
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "--auth=trust", "--username=postgres", "--no-sync").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	port, err := ports.Free()
	if err != nil {
		return fail(err)
	}
	server := run("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	logDir, err := os.MkdirTemp("", "nest-postgres-log-")
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(logDir) })
	logFile, err := os.Create(filepath.Join(logDir, "postgres.log"))
	if err != nil {
		return fail(err)
	}
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		logFile.Close()
		return fail(err)
	}
	cleanups = append(cleanups, func() {
		_ = server.Process.Signal(syscall.SIGINT) // fast shutdown
		_ = server.Wait()
		logFile.Close()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// An open port is not enough: until recovery ends the server answers
	// "the database system is starting up". pg_isready asks the protocol.
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := exec.Command(filepath.Join(binDir, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "-d", "postgres").CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(logFile.Name())
			return fail(fmt.Errorf("postgres on %s is not ready: %v: %s\n%s", addr, err, out, logs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "postgres://postgres@" + addr + "/postgres?sslmode=disable", stop, nil
}
