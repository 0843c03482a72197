package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/internal/testetcd"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestExternalEtcdDatastore keeps two virtual clusters in one external
// etcd: each under its own prefix, and delete removes only its own keys.
func TestExternalEtcdDatastore(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	endpoint := startEtcd(t)
	ctx := context.Background()

	clusters := map[string]*lifecycle.Cluster{}
	for _, name := range []string{"etcd-a", "etcd-b"} {
		cfg := config.Default()
		cfg.Datastore.Endpoint = "etcd://" + endpoint
		vc, client := env.VirtualCluster(t, name, lifecycle.CreateOptions{Config: cfg})
		clusters[name] = vc
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}, Data: map[string]string{"cluster": name}}
		if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	count := func(name string) int64 {
		resp, err := etcd.Get(ctx, config.EtcdPrefix(name)+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	for name := range clusters {
		if n := count(name); n == 0 {
			t.Fatalf("no keys under %s in etcd", config.EtcdPrefix(name))
		}
		resp, err := etcd.Get(ctx, config.EtcdPrefix(name)+"/configmaps/default/owner")
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("configmap of %s not in etcd: %v", name, err)
		}
	}
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, "etcd-a"); err != nil {
		t.Fatal(err)
	}
	if n := count("etcd-a"); n != 0 {
		t.Fatalf("%d keys of etcd-a left in etcd after delete", n)
	}
	if n := count("etcd-b"); n == 0 {
		t.Fatal("deleting etcd-a removed etcd-b's keys")
	}
}

// startEtcd runs a real etcd for one test (in the test process; the
// control planes reach it over TCP) and returns its client address.
func startEtcd(t *testing.T) string {
	t.Helper()
	return strings.TrimPrefix(testetcd.Start(t, nil), "http://")
}
