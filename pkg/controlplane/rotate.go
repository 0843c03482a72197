package controlplane

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/transport"
)

// Certificate rotation while the control plane runs. Leaf certificates are
// re-issued (same key, same CA) once two thirds of their lifetime have
// passed; each renewal is one atomic write of a cert file. Who notices:
//   - kube-apiserver reloads its serving, front-proxy and kubelet client
//     certificates from disk by itself;
//   - the in-process clients (controllers, syncer, hooks) use kubeconfigs
//     that refer to the cert files (Layout.LocalAdminKubeconfig and the
//     controller manager's), which client-go re-reads every
//     transport.CertCallbackRefreshDuration, closing old connections when
//     the cert changed;
//   - the admin kubeconfig (self-contained) is rewritten, and hooks that
//     hand it out (PublishKubeconfig) are told through HookEnv.CertsRotated.

// maxRotationSleep bounds the wait for the next renewal, so that a clock
// jump (a suspended laptop) delays a renewal by at most this much.
const maxRotationSleep = time.Hour

// rotationSignal is closed and replaced at each renewal.
type rotationSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newRotationSignal() *rotationSignal { return &rotationSignal{ch: make(chan struct{})} }

// next returns a channel closed at the next renewal.
func (r *rotationSignal) next() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ch
}

func (r *rotationSignal) fire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.ch)
	r.ch = make(chan struct{})
}

// clientReloadInterval is how often in-process clients re-read their cert
// files: client-go's default (5 minutes), or a tenth of a shorter leaf
// validity so that a renewed cert is in use long before the old one expires.
func clientReloadInterval(validity time.Duration) time.Duration {
	interval := transport.CertCallbackRefreshDuration
	if validity > 0 && validity/10 < interval {
		interval = max(validity/10, time.Second)
	}
	return interval
}

// rotateCertificates renews the certificates whenever one is due, until
// ctx ends. Failures are logged and retried; they do not stop the control
// plane (the old certificates stay valid for a third of their lifetime).
func rotateCertificates(ctx context.Context, layout Layout, server string, opts CertOptions, signal *rotationSignal, log *slog.Logger) {
	retry := time.Second
	for {
		wait := retry
		b, err := PrepareCerts(layout, server, opts)
		if err == nil {
			retry = time.Second
			if b.Changed() {
				for _, c := range b.Changes {
					log.Info("Certificate renewed", "file", c.Path, "reason", c.Reason)
				}
				signal.fire()
			}
			var next time.Time
			if next, err = b.NextRenewal(); err == nil {
				wait = min(max(time.Until(next), time.Second), maxRotationSleep)
				log.Debug("Next certificate renewal", "at", next.UTC().Format(time.RFC3339))
			}
		}
		if err != nil {
			log.Error("Certificate renewal failed, retrying", "error", err, "retryIn", retry)
			retry = min(2*retry, 5*time.Minute)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
