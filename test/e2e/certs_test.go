package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/pki"
)

// TestCertificatesRotateWhileRunning: with two-minute leaf certificates, a
// running control plane renews every leaf (same CA) at two thirds of its
// lifetime, and once every original certificate has expired the cluster
// still works end to end without a restart: the controllers (their client
// cert) turn a new Deployment into pods, the syncer (its client) puts them
// on the host, kubectl exec goes through the apiserver's kubelet client
// cert to the syncer's kubelet endpoint, and the apiserver serves its new
// certificate. A kubeconfig taken before the renewal works until its own
// certificate expires; the rewritten one works after. `nest certs rotate`
// then forces a rotation of the running cluster, and `nest certs check`
// shows the expiries.
func TestCertificatesRotateWhileRunning(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	cfg := config.Default()
	cfg.ControlPlane.Certificates.Validity = "2m"
	vc, client := env.VirtualCluster(t, "rotor", lifecycle.CreateOptions{Config: cfg})
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	original := certsByName(ctx, t, p, "rotor")
	oldKubeconfig := filepath.Join(t.TempDir(), "before.kubeconfig")
	data, err := os.ReadFile(vc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, oldKubeconfig, data)
	runningPod(t, client, "talker")

	// Renewal is due at two thirds of the lifetime: 80 s after issue.
	testenv.Eventually(t, 3*time.Minute, "every leaf certificate renewed", func() (bool, error) {
		now := certsByName(ctx, t, p, "rotor")
		for name, c := range original {
			if c.IsCA != (now[name].Serial == c.Serial) {
				return false, fmt.Errorf("%s: serial %s, was %s", name, now[name].Serial, c.Serial)
			}
		}
		return true, nil
	})
	// The renewal broke nobody: the old admin kubeconfig still works.
	if out, err := kubectl(t, oldKubeconfig, "", "get", "namespaces"); err != nil {
		t.Fatalf("kubeconfig from before the renewal: %v: %s", err, out)
	}

	// Wait until every original leaf has expired.
	var lastExpiry time.Time
	for _, c := range original {
		if !c.IsCA && c.NotAfter.After(lastExpiry) {
			lastExpiry = c.NotAfter
		}
	}
	time.Sleep(time.Until(lastExpiry) + 5*time.Second)
	t.Logf("every original leaf certificate expired at %s", lastExpiry.UTC().Format(time.RFC3339))

	if out, err := kubectl(t, oldKubeconfig, "", "get", "namespaces"); err == nil {
		t.Errorf("the pre-renewal kubeconfig still works after its certificate expired: %s", out)
	}
	client, err = kube.Clientset(vc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	checkServingSerial(t, vc.Endpoint, certsByName(ctx, t, p, "rotor")["apiserver"].Serial)
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("after", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "the new deployment's 2 pods Running on the host", func() (bool, error) {
		l, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=after"})
		if err != nil {
			return false, err
		}
		n := 0
		for _, pod := range l.Items {
			if pod.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n == 2, fmt.Errorf("%d of %d host pods running", n, len(l.Items))
	})
	testenv.Eventually(t, time.Minute, "kubectl exec through the kubelet endpoint", func() (bool, error) {
		out, err := kubectl(t, vc.Kubeconfig, "", "exec", "talker", "-c", "main", "--", "echo", "still here")
		return err == nil && strings.TrimSpace(out) == "still here", fmt.Errorf("%v: %s", err, out)
	})

	// A forced rotation of the running cluster, as a user runs it.
	before := certsByName(ctx, t, p, "rotor")
	if _, err := nestBinary(t, env, "certs", "rotate", "rotor"); err != nil {
		t.Fatal(err)
	}
	after := certsByName(ctx, t, p, "rotor")
	for name, c := range before {
		if c.IsCA != (after[name].Serial == c.Serial) {
			t.Errorf("forced rotation: %s serial %s, was %s", name, after[name].Serial, c.Serial)
		}
	}
	testenv.Eventually(t, time.Minute, "the apiserver to serve the rotated certificate", func() (bool, error) {
		return checkServingSerialErr(vc.Endpoint, after["apiserver"].Serial) == nil, checkServingSerialErr(vc.Endpoint, after["apiserver"].Serial)
	})
	if out, err := kubectl(t, vc.Kubeconfig, "", "get", "deployments"); err != nil {
		t.Fatalf("after the forced rotation: %v: %s", err, out)
	}
	out, err := nestBinary(t, env, "certs", "check", "rotor")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ca ", "CA", "never (not rotated)", "apiserver ", "admin ", "kube-controller-manager ", "apiserver-kubelet-client "} {
		if !strings.Contains(out, want) {
			t.Errorf("nest certs check lacks %q:\n%s", want, out)
		}
	}
}

func certsByName(ctx context.Context, t *testing.T, p *lifecycle.Provider, name string) map[string]pki.CertInfo {
	t.Helper()
	certs, err := p.Certificates(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]pki.CertInfo{}
	for _, c := range certs {
		out[c.Name] = c
	}
	return out
}

func checkServingSerial(t *testing.T, endpoint, want string) {
	t.Helper()
	if err := checkServingSerialErr(endpoint, want); err != nil {
		t.Fatal(err)
	}
}

// checkServingSerialErr compares the serial of the certificate the
// apiserver presents with want (hex).
func checkServingSerialErr(endpoint, want string) error {
	conn, err := tls.Dial("tcp", strings.TrimPrefix(endpoint, "https://"), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only the serial is read
	if err != nil {
		return err
	}
	defer conn.Close()
	got := conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
	if got != want {
		return fmt.Errorf("apiserver serves certificate %s, want %s", got, want)
	}
	return nil
}
