package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/ports"
)

// TestPostgresDatastore keeps a virtual cluster in a real PostgreSQL (kine
// on Postgres), and checks its objects survive a restart of the control
// plane.
func TestPostgresDatastore(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	endpoint := startPostgres(t)
	cfg := config.Default()
	cfg.Datastore.Endpoint = endpoint
	vc, client := env.VirtualCluster(t, "on-postgres", lifecycle.CreateOptions{Config: cfg})
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Data: map[string]string{"in": "postgres"}}
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(env.Home.ClusterDir(vc.Name), "data", "state.db")); !os.IsNotExist(err) {
		t.Fatalf("a Postgres-backed cluster wrote a SQLite file: %v", err)
	}
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx, vc.Name); err != nil {
		t.Fatal(err)
	}
	client = start(t, p, vc.Name)
	got, err := client.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{})
	if err != nil || got.Data["in"] != "postgres" {
		t.Fatalf("configmap after restart = %v, %v", got, err)
	}
}

// startPostgres runs a throwaway PostgreSQL server from Debian's packages
// (which `make test` installs) and returns a datastore endpoint for it.
func startPostgres(t *testing.T) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL is not installed: `make test` installs Debian's postgresql package (apt-get install postgresql)")
	}
	sort.Strings(bins)
	binDir := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "nest-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: run it as the postgres user then.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
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
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	server := run("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	logFile, err := os.Create(filepath.Join(t.TempDir(), "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	// Registered before the virtual cluster's clean-up, so it runs after
	// it (t.Cleanup is LIFO): the cluster is deleted while its store runs.
	t.Cleanup(func() {
		_ = server.Process.Signal(syscall.SIGINT) // fast shutdown
		_ = server.Wait()
		logFile.Close()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testenv.Eventually(t, 30*time.Second, "postgres to accept connections", func() (bool, error) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err
		}
		return true, conn.Close()
	})
	return "postgres://postgres@" + addr + "/postgres?sslmode=disable"
}
