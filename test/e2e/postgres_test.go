package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/internal/testpg"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestPostgresDatastore keeps a virtual cluster in a real PostgreSQL (kine
// on Postgres), and checks its objects survive a restart of the control
// plane.
func TestPostgresDatastore(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	endpoint := testpg.Start(t) // before the cluster: its clean-up runs after the cluster is deleted
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
