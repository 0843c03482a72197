package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver kine uses
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// fullDiskSize is the tmpfs holding the datastore: room for a fresh
// cluster's SQLite file and its write-ahead log, and little more.
const fullDiskSize = "64m"

// TestSQLiteFullDisk puts a virtual cluster's SQLite datastore on a small
// tmpfs and fills it: writes fail with an error that says the disk is full,
// reads go on, nothing acknowledged is lost, the file passes SQLite's
// integrity check, and writes work again once
// space returns — without a restart. It needs root (mount); elsewhere it
// skips and says so.
func TestSQLiteFullDisk(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()

	disk := mountTmpfs(t, fullDiskSize)
	cfg := config.Default()
	cfg.Datastore.Endpoint = "sqlite://" + filepath.Join(disk, "state.db")
	_, client := env.VirtualCluster(t, "full-disk", lifecycle.CreateOptions{Config: cfg})

	acked := map[string]bool{}
	create := func(name string) error {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Data:       map[string]string{"payload": strings.Repeat("x", 16<<10)},
		}
		_, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		if err == nil {
			acked[name] = true
		}
		return err
	}
	for i := range 10 {
		if err := create(fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)

	// SQLite may still have free pages in its files; keep writing until the
	// disk refuses, bounded by count.
	var writeErr error
	for i := range 2000 {
		if writeErr = create(fmt.Sprintf("during-%d", i)); writeErr != nil {
			break
		}
	}
	if writeErr == nil {
		t.Fatal("2000 writes of 16 KiB succeeded on a full disk")
	}
	t.Logf("write on a full disk: %v", writeErr)
	if !strings.Contains(writeErr.Error(), "full") {
		t.Errorf("the error does not say the disk is full: %v", writeErr)
	}

	// Reads still work and see every acknowledged write.
	checkAcked(ctx, t, client, acked)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "writes to work again after space returns", func() (bool, error) {
		return create("after") == nil, nil
	})
	checkAcked(ctx, t, client, acked)
	checkIntegrity(t, filepath.Join(disk, "state.db"))
}

// checkIntegrity runs SQLite's integrity check on a database in use (WAL
// mode lets a reader in beside kine).
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&result); err != nil {
		t.Fatalf("integrity check of %s: %v", path, err)
	}
	if result != "ok" {
		t.Fatalf("integrity check of %s: %s", path, result)
	}
}

// checkAcked fails the test unless every acknowledged configmap is there.
func checkAcked(ctx context.Context, t *testing.T, client kubernetes.Interface, acked map[string]bool) {
	t.Helper()
	list, err := client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list on a full disk: %v", err)
	}
	have := map[string]bool{}
	for _, cm := range list.Items {
		have[cm.Name] = true
	}
	for name := range acked {
		if !have[name] {
			t.Errorf("acknowledged configmap %s is lost", name)
		}
	}
}

// mountTmpfs mounts a tmpfs of the given size on a new directory, unmounted
// when the test ends (after the cluster using it is gone: cleanups run last
// registered first).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nest-full-disk-")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		_ = os.Remove(dir)
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("mounting a tmpfs needs root (%v): the full-disk test did not run", err)
		}
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
		_ = os.Remove(dir)
	})
	return dir
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatalf("fill %s: %v", path, err)
		}
	}
}
