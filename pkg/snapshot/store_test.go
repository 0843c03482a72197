package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nestcluster/nest/internal/testetcd"
)

// startEtcd runs a real etcd in the test process and returns a client.
func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{testetcd.Start(t, nil)}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTakeAndLoad snapshots one cluster's prefix of a shared etcd over
// several pages, leaves out what must not be restored, and loads it under
// another prefix.
func TestTakeAndLoad(t *testing.T) {
	t.Parallel()
	etcd := startEtcd(t)
	ctx := context.Background()
	const n = 2*pageSize + 7
	for i := range n {
		if _, err := etcd.Put(ctx, fmt.Sprintf("/nest/a/registry/configmaps/default/cm-%04d", i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	lease, err := etcd.Grant(ctx, 3600)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []struct {
		key   string
		lease clientv3.LeaseID
	}{
		{"/nest/a/registry/events/default/e1", lease.ID},
		{"/nest/a/registry/masterleases/127.0.0.1", 0},
		{"/nest/a/registry/leases/kube-system/apiserver-abc", 0},
		{"/nest/a/registry/health", 0},
		{"/nest/ab/registry/configmaps/default/other-cluster", 0}, // a neighbour whose name extends ours
		{"/nest/b/registry/configmaps/default/other-cluster", 0},
	} {
		if _, err := etcd.Put(ctx, kv.key, "x", clientv3.WithLease(kv.lease)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	h, err := Take(ctx, etcd, "/nest/a/registry", Header{Cluster: "a"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the snapshot's revision must not be in it.
	if _, err := etcd.Put(ctx, "/nest/a/registry/configmaps/default/later", "x"); err != nil {
		t.Fatal(err)
	}
	if h.Keys != n || h.Revision == 0 || h.Prefix != "/nest/a/registry" {
		t.Fatalf("header = %+v, want %d keys", h, n)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := func() error { _, err := Load(ctx, etcd, "/nest/b/registry", r); return err }(); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Load into a non-empty prefix: err = %v, want ErrNotEmpty", err)
	}
	// A store holding only kine's health key counts as empty.
	if _, err := etcd.Put(ctx, "/nest/c/registry/health", "x"); err != nil {
		t.Fatal(err)
	}
	r, _ = NewReader(bytes.NewReader(buf.Bytes()))
	written, err := Load(ctx, etcd, "/nest/c/registry", r)
	if err != nil || written != n {
		t.Fatalf("Load = %d, %v; want %d", written, err, n)
	}
	got, err := etcd.Get(ctx, "/nest/c/registry/configmaps/default/cm-0513")
	if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "513" {
		t.Fatalf("restored key = %v, %v", got, err)
	}
	if c, _ := Count(ctx, etcd, "/nest/c/registry"); c != n {
		t.Fatalf("%d keys restored, want %d", c, n)
	}
	if err := Clear(ctx, etcd, "/nest/a/registry"); err != nil {
		t.Fatal(err)
	}
	if c, _ := Count(ctx, etcd, "/nest/a/registry"); c != 0 {
		t.Fatalf("%d keys left after Clear", c)
	}
	if c, _ := Count(ctx, etcd, "/nest/ab/registry"); c != 1 {
		t.Fatal("Clear of /nest/a touched /nest/ab")
	}
}
