package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// runningPod makes a pod with two containers in the virtual cluster and
// waits for it to run.
func runningPod(t *testing.T, client kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "talker:1"}, {Name: "sidecar", Image: "sidecar:1"}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var running *corev1.Pod
	testenv.Eventually(t, time.Minute, "the pod Running", func() (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		running = p
		return err == nil && p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "", err
	})
	return running
}

// nodeAddresses tells where the nodes of both clusters say their kubelets
// are, for failure messages.
func nodeAddresses(env *testenv.Env, virtual kubernetes.Interface) string {
	var b strings.Builder
	for side, c := range map[string]kubernetes.Interface{"virtual": virtual, "host": env.Client} {
		nodes, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			fmt.Fprintf(&b, "\n%s nodes: %v", side, err)
			continue
		}
		for _, n := range nodes.Items {
			fmt.Fprintf(&b, "\n%s node %s (made %s): addresses %v, kubelet port %d", side, n.Name, n.CreationTimestamp, n.Status.Addresses, n.Status.DaemonEndpoints.KubeletEndpoint.Port)
		}
	}
	return b.String()
}

// kubectl runs bin/kubectl on a kubeconfig with stdin, and returns its
// combined output.
func kubectl(t *testing.T, kubeconfig, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.KubectlBinary(t), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSyncerExec: `kubectl exec` and `kubectl attach` on a virtual pod go,
// through the syncer's kubelet endpoint, to the host copy's exec and attach.
// The local host's kwok runs exec commands on this machine (the test host
// has exec simulation on), so their output and stdin come back; it keeps
// nothing to attach to, and its refusal names the host pod and container
// the request reached.
func TestSyncerExec(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "exec", lifecycle.CreateOptions{})
	runningPod(t, client, "talker")

	testenv.Eventually(t, time.Minute, "kubectl exec to print what it ran", func() (bool, error) {
		out, err := kubectl(t, vc.Kubeconfig, "", "exec", "talker", "-c", "sidecar", "--", "echo", "hello from", "sidecar")
		return err == nil && strings.TrimSpace(out) == "hello from sidecar", fmt.Errorf("%v: %s%s", err, out, nodeAddresses(env, client))
	})
	t.Run("stdin", func(t *testing.T) {
		// Not `cat`: kwok v0.8.0 never closes the command's stdin, so cat
		// would wait for ever; head stops after its two lines.
		out, err := kubectl(t, vc.Kubeconfig, "line one\nline two\n", "exec", "-i", "talker", "-c", "main", "--", "head", "-n", "2")
		if err != nil || out != "line one\nline two\n" {
			t.Fatalf("kubectl exec -i -- head -n 2 = %q, %v; want the input back", out, err)
		}
	})
	t.Run("a failing command fails", func(t *testing.T) {
		// kwok reports a failure, but not its exit code (it wraps the error).
		_, err := kubectl(t, vc.Kubeconfig, "", "exec", "talker", "--", "sh", "-c", "exit 3")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("kubectl exec -- sh -c 'exit 3' = %v, want a non-zero exit", err)
		}
	})
	t.Run("attach reaches the host pod's container", func(t *testing.T) {
		out, _ := kubectl(t, vc.Kubeconfig, "", "attach", "talker", "-c", "sidecar")
		want := fmt.Sprintf("no attaches found for container %q in pod %q", "sidecar", vc.HostNamespace+"/talker-x-default-x-exec")
		if !strings.Contains(out, want) {
			t.Fatalf("kubectl attach said:\n%s\nwant kwok's answer %q", out, want)
		}
	})
}

// TestSyncerPortForward: `kubectl port-forward` to a virtual pod reaches
// its host copy's node; the local host's kwok answers every port with an
// echo.
func TestSyncerPortForward(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "portfwd", lifecycle.CreateOptions{})
	runningPod(t, client, "server")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.KubectlBinary(t), "--kubeconfig", vc.Kubeconfig, "port-forward", "pod/server", ":8080")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	// "Forwarding from 127.0.0.1:PORT -> 8080"
	lines := bufio.NewScanner(stdout)
	forwarding := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)
	port := 0
	for port == 0 && lines.Scan() {
		if m := forwarding.FindStringSubmatch(lines.Text()); m != nil {
			port, _ = strconv.Atoi(m[1])
		}
	}
	if port == 0 {
		t.Fatalf("kubectl port-forward did not start: %s%s", stderr.String(), nodeAddresses(env, client))
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	for _, msg := range []string{"ping\n", "a second connection\n"} {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if got != msg {
			t.Fatalf("through the port-forward got %q (%v), want the echo %q; kubectl: %s", got, err, msg, stderr.String())
		}
	}
}

// TestSyncerKubeletRefusesStrangers: the syncer's kubelet endpoint answers
// only clients with a certificate of the virtual cluster's CA.
func TestSyncerKubeletRefusesStrangers(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	_, client := env.VirtualCluster(t, "strangers", lifecycle.CreateOptions{})
	pod := runningPod(t, client, "guarded")
	node, err := client.CoreV1().Nodes().Get(context.Background(), pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(node.Status.Addresses) == 0 {
		t.Fatalf("node %s has no address", node.Name)
	}
	base := fmt.Sprintf("https://%s", net.JoinHostPort(node.Status.Addresses[0].Address, strconv.Itoa(int(node.Status.DaemonEndpoints.KubeletEndpoint.Port))))
	stranger := selfSignedClientCert(t)
	for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "a certificate of another CA": {stranger}} {
		t.Run(name, func(t *testing.T) {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
				InsecureSkipVerify: true, //nolint:gosec // the server is not what is tested
				Certificates:       certs,
			}}}
			for _, path := range []string{"/containerLogs/default/guarded/main", "/exec/default/guarded/main?command=true&output=1"} {
				resp, err := c.Post(base+path, "", nil)
				if err == nil {
					resp.Body.Close()
					t.Fatalf("%s with %s: got %s, want the TLS handshake refused", path, name, resp.Status)
				}
			}
		})
	}
}

func selfSignedClientCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "system:kube-apiserver", Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestHostNodesKeepTheirAddresses: a simulated node of the local host that
// turns NotReady and Ready again keeps its addresses; without them the
// apiserver cannot reach its kubelet (logs, exec, port-forward). It runs
// on a private host: a node turning NotReady disturbs the tests that share
// a host.
func TestHostNodesKeepTheirAddresses(t *testing.T) {
	t.Parallel()
	shared := testenv.Get(t)
	env, err := testenv.StartHost(t.TempDir(), shared.NestBinary, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = env.Host.Down(context.Background(), false) })
	ctx := context.Background()
	const node = "nest-node-0"
	want := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	notReady := []byte(`{"status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NestTest","message":"flipped by a test"}]}}`)
	for i := range 2 { // kwok's node-initialize used to drop it every other time
		if _, err := env.Client.CoreV1().Nodes().PatchStatus(ctx, node, notReady); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, fmt.Sprintf("the node Ready again (%d)", i+1), func() (bool, error) {
			n, err := env.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					if !equality.Semantic.DeepEqual(n.Status.Addresses, want) {
						t.Fatalf("after turning Ready again, addresses %v, want %v", n.Status.Addresses, want)
					}
					return true, nil
				}
			}
			return false, errors.New("not Ready")
		})
	}
}
