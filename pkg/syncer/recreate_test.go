package syncer_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/syncer"
)

// startHost starts a local host (a real kube-apiserver) for one test and
// stops it at the end. The test's "virtual cluster" is namespaces of the
// same apiserver: the service sync only needs two clients.
func startHost(t *testing.T) kubernetes.Interface {
	t.Helper()
	bin, err := testenv.NestBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "nest-syncer-test-")
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.StartHost(dir, bin, 1)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a deadlock guard
		defer cancel()
		if _, err := env.Host.Down(ctx, false); err != nil {
			t.Errorf("stop local host: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	return env.Client
}

// TestServiceRecreationRaces runs a tenant's writes at the exact points
// between the syncer's API calls where they used to be lost or leave a host
// copy behind: while a virtual service moves to its host copy's cluster IP
// (two updates, through ExternalName), while a recreation recorded on the
// host copy by an earlier syncer is finished, and while a host copy is
// replaced (delete, create). Each case ends converged: the virtual service as the tenant
// left it, and a host copy exactly when there is a virtual service, made
// from it (its uid annotation).
func TestServiceRecreationRaces(t *testing.T) {
	client := startHost(t)
	ctx := context.Background()
	const hostNS = "nest-races"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hostNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := func(ns string, port int32) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{{Name: "http", Port: port}}},
		}
	}
	deleteWeb := func(ns, name string) {
		if err := client.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("tenant delete: %v", err)
		}
	}
	toExternalName := func(t *testing.T, ns string) {
		v, err := client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v.Spec.Type, v.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
		if _, err := client.CoreV1().Services(ns).Update(ctx, v, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name string
		// act is what the syncer is doing when the tenant strikes: a
		// recreation (Recreate) or a pass that replaces the host copy.
		act   func(ctx context.Context, t *testing.T, s *syncer.ServiceSyncer, ns string) error
		hooks func(ns string, cancel context.CancelFunc) syncer.Hooks
		// windowCopy: whether a host copy exists right after act (the
		// window the next passes close).
		windowCopy bool
		wantPort   int32  // of the virtual service left; 0: none
		wantLabel  string // a label the tenant set on it, kept
	}{
		{
			name: "syncer killed between the two updates of a move: the next pass finishes it from the record",
			act: func(ctx context.Context, t *testing.T, s *syncer.ServiceSyncer, ns string) error {
				return s.Recreate(ctx, ns, "web")
			},
			hooks: func(ns string, cancel context.CancelFunc) syncer.Hooks {
				return syncer.Hooks{BeforeRecreate: func(string, string) { cancel() }} // its next call fails, like a crash
			},
			windowCopy: true, wantPort: 80,
		},
		{
			name: "tenant deletes the service between the two updates of a move: its delete wins",
			act: func(ctx context.Context, t *testing.T, s *syncer.ServiceSyncer, ns string) error {
				return s.Recreate(ctx, ns, "web")
			},
			hooks: func(ns string, _ context.CancelFunc) syncer.Hooks {
				return syncer.Hooks{BeforeRecreate: deleteWeb}
			},
			windowCopy: true, wantPort: 0,
		},
		{
			name: "tenant deletes the moved service right after the move: its delete wins",
			act: func(ctx context.Context, t *testing.T, s *syncer.ServiceSyncer, ns string) error {
				return s.Recreate(ctx, ns, "web")
			},
			hooks: func(ns string, _ context.CancelFunc) syncer.Hooks {
				return syncer.Hooks{AfterRecreate: deleteWeb}
			},
			windowCopy: true, wantPort: 0,
		},
		{
			name: "tenant edits the service between the two updates of a move: the edit is kept and the move finishes",
			act: func(ctx context.Context, t *testing.T, s *syncer.ServiceSyncer, ns string) error {
				return s.Recreate(ctx, ns, "web")
			},
			hooks: func(ns string, _ context.CancelFunc) syncer.Hooks {
				return syncer.Hooks{BeforeRecreate: func(ns, _ string) {
					v, err := client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
					if err != nil {
						t.Errorf("tenant read: %v", err)
						return
					}
					v.Labels = map[string]string{"edited": "yes"}
					v.Spec.Ports[0].Port = 8080
					if _, err := client.CoreV1().Services(ns).Update(ctx, v, metav1.UpdateOptions{}); err != nil {
						t.Errorf("tenant edit: %v", err)
					}
				}}
			},
			windowCopy: true, wantPort: 8080, wantLabel: "edited",
		},
		{
			name: "recreation recorded on the host copy by an earlier syncer, virtual service deleted: the next pass creates it",
			act: func(ctx context.Context, t *testing.T, s *syncer.ServiceSyncer, ns string) error {
				return s.RecordOldRecreation(ctx, ns, "web")
			},
			hooks:      func(string, context.CancelFunc) syncer.Hooks { return syncer.Hooks{} },
			windowCopy: true, wantPort: 80,
		},
		{
			name: "host copy replaced, tenant deletes before the recheck: no copy made",
			act: func(ctx context.Context, t *testing.T, s *syncer.ServiceSyncer, ns string) error {
				toExternalName(t, ns)
				return s.Sync(ctx, ns, "web")
			},
			hooks: func(ns string, _ context.CancelFunc) syncer.Hooks {
				return syncer.Hooks{BeforeHostRemake: deleteWeb}
			},
			windowCopy: false, wantPort: 0,
		},
		{
			name: "host copy replaced, tenant deletes after the recheck: the copy made goes",
			act: func(ctx context.Context, t *testing.T, s *syncer.ServiceSyncer, ns string) error {
				toExternalName(t, ns)
				return s.Sync(ctx, ns, "web")
			},
			hooks: func(ns string, _ context.CancelFunc) syncer.Hooks {
				return syncer.Hooks{AfterHostRecheck: deleteWeb}
			},
			windowCopy: true, wantPort: 0,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := fmt.Sprintf("tenant-%d", i)
			if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			s := syncer.NewServiceSyncer(client, client, "races", hostNS)
			hname := s.HostName(ns, "web")
			if _, err := client.CoreV1().Services(ns).Create(ctx, web(ns, 80), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(ctx, ns, "web"); err != nil {
				t.Fatalf("first pass: %v", err)
			}
			before, err := client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.CoreV1().Services(hostNS).Get(ctx, hname, metav1.GetOptions{}); err != nil {
				t.Fatalf("host copy after the first pass: %v", err)
			}

			actCtx, cancel := context.WithCancel(ctx)
			s.SetHooks(tt.hooks(ns, cancel))
			if err := tt.act(actCtx, t, s, ns); err != nil {
				t.Logf("interrupted pass: %v", err) // the killed one fails; the next passes must converge
			}
			s.SetHooks(syncer.Hooks{})
			cancel()
			_, err = client.CoreV1().Services(hostNS).Get(ctx, hname, metav1.GetOptions{})
			if got := err == nil; got != tt.windowCopy {
				t.Fatalf("host copy right after the race: %v, want %v (%v)", got, tt.windowCopy, err)
			}
			// The next passes: first with the virtual cache still showing
			// the service as it was before the race, then up to date.
			if err := s.Sync(ctx, ns, "web", before); err != nil {
				t.Logf("pass on a stale cache: %v", err)
			}
			for pass := range 3 {
				if err := s.Sync(ctx, ns, "web"); err != nil {
					t.Fatalf("pass %d: %v", pass, err)
				}
			}

			v, err := client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
			switch {
			case tt.wantPort == 0 && !apierrors.IsNotFound(err):
				t.Fatalf("virtual service after the tenant deleted it: %v %+v", err, v)
			case tt.wantPort != 0 && err != nil:
				t.Fatalf("virtual service lost: %v", err)
			case tt.wantPort != 0 && v.Spec.Ports[0].Port != tt.wantPort:
				t.Fatalf("virtual service has port %d, want %d (the tenant's)", v.Spec.Ports[0].Port, tt.wantPort)
			}
			if tt.wantPort != 0 && (v.Spec.Type == corev1.ServiceTypeExternalName || v.Annotations["nest.dev/moving-to"] != "") {
				t.Fatalf("virtual service left half-way through its move: type %s, annotations %v", v.Spec.Type, v.Annotations)
			}
			if tt.wantLabel != "" && v.Labels[tt.wantLabel] == "" {
				t.Fatalf("virtual service lost the tenant's label %s: %v", tt.wantLabel, v.Labels)
			}
			h, herr := client.CoreV1().Services(hostNS).Get(ctx, hname, metav1.GetOptions{})
			if tt.wantPort == 0 {
				if !apierrors.IsNotFound(herr) {
					t.Fatalf("host copy left behind: %v %+v", herr, h)
				}
				return
			}
			if herr != nil {
				t.Fatalf("host copy: %v", herr)
			}
			if h.Annotations["nest.dev/virtual-uid"] != string(v.UID) || h.Annotations["nest.dev/recreating"] != "" || h.Spec.Ports[0].Port != tt.wantPort {
				t.Fatalf("host copy not made from the virtual service %s: %v, port %d", v.UID, h.Annotations, h.Spec.Ports[0].Port)
			}
		})
	}
}
