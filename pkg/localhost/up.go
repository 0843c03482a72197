package localhost

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"github.com/nestcluster/nest/pkg/ports"
	"net/http"
	"os"
	"time"

	"github.com/nestcluster/nest/pkg/components"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/kubeconfig"
	"github.com/nestcluster/nest/pkg/localhost/kwok"
	"github.com/nestcluster/nest/pkg/pki"
)

// UpResult tells what Up did.
type UpResult struct {
	// Started lists the components Up had to start; empty when the host was
	// already up.
	Started []string
	Status  *Status
}

// Up brings the local host up, starting only the components that are not
// running, and makes sure it has the requested simulated nodes.
func (h *Host) Up(ctx context.Context, opts Options) (*UpResult, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := h.ensureDirs(); err != nil {
		return nil, err
	}
	s, err := h.loadState()
	if err != nil {
		return nil, err
	}
	if s == nil {
		if s, err = newState(orDefault(opts.Datastore, DefaultDatastore), orDefaultInt(opts.Nodes, DefaultNodes)); err != nil {
			return nil, err
		}
	} else {
		if opts.Datastore != "" && opts.Datastore != s.Datastore {
			return nil, fmt.Errorf("the local host already stores its data in %s; to switch to %s run `nest host down --purge` first (it deletes the host's data)", s.Datastore, opts.Datastore)
		}
		if opts.Nodes > 0 {
			s.Nodes = opts.Nodes
		}
	}
	if opts.SimulateExec {
		s.SimulateExec = true
	}
	if opts.SimulatePortForward {
		s.SimulatePortForward = true
	}
	kwokPath, err := kwok.FindBinary(h.nestPath)
	if err != nil {
		return nil, err
	}
	b, err := h.ensurePKI()
	if err != nil {
		return nil, err
	}
	if err := h.writeKubeconfigs(s, b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(h.kwokConfigPath(), kwok.Config(s.SimulateExec), 0o600); err != nil {
		return nil, fmt.Errorf("write kwok config: %w", err)
	}
	if err := h.saveState(s); err != nil {
		return nil, err
	}

	result := &UpResult{}
	for i := range componentNames {
		c := h.components(s, b, kwokPath)[i]
		pid, err := exec.ReadPIDFile(h.pidPath(c.name))
		if err != nil {
			return nil, err
		}
		if exec.Alive(pid, h.dir) {
			if err := h.waitHealthy(ctx, c, pid, opts.Timeout); err != nil {
				return nil, fmt.Errorf("%s runs (pid %d) but is not healthy: %w; `nest host down && nest host up` restarts it", c.name, pid, err)
			}
			continue
		}
		if err := h.freeComponentPort(s, c.name); err != nil {
			return nil, err
		}
		c = h.components(s, b, kwokPath)[i] // ports may have moved
		if _, dry := h.runner.(exec.DryRun); c.name == "kwok" && s.SimulatePortForward && !dry {
			if err := h.ensurePortForwardCRD(ctx); err != nil {
				return nil, err
			}
		}
		start := time.Now()
		h.logger.Info("Starting component", "component", c.name)
		pid, err = h.runner.StartDetached(c.command)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", c.name, err)
		}
		if _, dry := h.runner.(exec.DryRun); dry {
			continue
		}
		if err := exec.WritePIDFile(h.pidPath(c.name), pid); err != nil {
			return nil, err
		}
		if err := h.waitHealthy(ctx, c, pid, opts.Timeout); err != nil {
			return nil, fmt.Errorf("%s did not become healthy: %w\n%s", c.name, err, exec.TailLog(h.logPath(c.name), 15))
		}
		h.logger.Info("Component is healthy", "component", c.name, "pid", pid, "elapsed", time.Since(start).Round(time.Millisecond))
		result.Started = append(result.Started, c.name)
	}
	if _, dry := h.runner.(exec.DryRun); dry {
		return result, nil
	}
	if err := h.ensureNodes(ctx, s.Nodes); err != nil {
		return nil, err
	}
	st, err := h.Status(ctx)
	if err != nil {
		return nil, err
	}
	result.Status = st
	return result, nil
}

// freeComponentPort makes sure the port of a component about to start is
// free. Ports that only the host itself uses move to a free one; the
// apiserver's and etcd's ports are in kubeconfigs and flags, so a clash there
// is an error that says what to do.
func (h *Host) freeComponentPort(s *state, name string) error {
	var port *int
	switch name {
	case components.APIServer:
		if !ports.IsFree(s.Ports.APIServer) {
			return fmt.Errorf("port %d of the local host's kube-apiserver is in use by another process: stop that process, or run `nest host down --purge` to start afresh on new ports", s.Ports.APIServer)
		}
		return nil
	case "datastore":
		if s.Datastore == DatastoreEtcd && (!ports.IsFree(s.Ports.Etcd) || !ports.IsFree(s.Ports.EtcdPeer)) {
			return fmt.Errorf("port %d or %d of the local host's etcd is in use by another process: stop that process", s.Ports.Etcd, s.Ports.EtcdPeer)
		}
		if s.Datastore == DatastoreKine {
			_ = os.Remove(h.kineSocket()) // a stale socket of a dead kine
		}
		return nil
	case components.ControllerManager:
		port = &s.Ports.ControllerManager
	case components.Scheduler:
		port = &s.Ports.Scheduler
	case "kwok":
		port = &s.Ports.Kwok
	case components.Metrics:
		port = &s.Ports.Metrics
	default:
		return nil
	}
	if *port != 0 && ports.IsFree(*port) {
		return nil
	}
	p, err := ports.Free()
	if err != nil {
		return err
	}
	h.logger.Info("Port in use, moving component", "component", name, "from", *port, "to", p)
	*port = p
	return h.saveState(s)
}

// waitHealthy waits until c answers its health check, failing fast if its
// process dies.
func (h *Host) waitHealthy(ctx context.Context, c component, pid int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		if !exec.Alive(pid, h.dir) {
			return fmt.Errorf("process %d exited (log: %s)", pid, h.logPath(c.name))
		}
		probeCtx, probeCancel := context.WithTimeout(ctx, 2*time.Second)
		lastErr = c.healthy(probeCtx)
		probeCancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s: %v (log: %s)", timeout, lastErr, h.logPath(c.name))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// apiserverCheck probes /readyz as the admin user.
func (h *Host) apiserverCheck(s *state, b *pki.Bundle) func(context.Context) error {
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", s.Ports.APIServer)
	return func(ctx context.Context) error {
		cert, err := tls.LoadX509KeyPair(b.AdminCert(), b.AdminKey())
		if err != nil {
			return err
		}
		caPEM, err := os.ReadFile(b.CACert())
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		}}
		return httpGetCheck(client, url)(ctx)
	}
}

// writeKubeconfigs writes the admin kubeconfig and one per component, each
// with the component's own identity.
func (h *Host) writeKubeconfigs(s *state, b *pki.Bundle) error {
	server := fmt.Sprintf("https://127.0.0.1:%d", s.Ports.APIServer)
	files := []struct{ path, user, cert, key string }{
		{h.KubeconfigPath(), "nest-admin", b.AdminCert(), b.AdminKey()},
		{h.kubeconfigFor("kwok"), "kwok", b.AdminCert(), b.AdminKey()},
		// The metrics API registers itself (an APIService) and reviews
		// its callers' access: an admin's work.
		{h.kubeconfigFor(components.Metrics), components.Metrics, b.AdminCert(), b.AdminKey()},
		{h.kubeconfigFor(components.ControllerManager), components.ControllerManager, b.ClientCert(components.ControllerManager), b.ClientKey(components.ControllerManager)},
		{h.kubeconfigFor(components.Scheduler), components.Scheduler, b.ClientCert(components.Scheduler), b.ClientKey(components.Scheduler)},
	}
	for _, f := range files {
		if err := kubeconfig.WriteForCert(f.path, "nest-host", f.user, server, kubeconfig.CertFiles{CA: b.CACert(), Cert: f.cert, Key: f.key}); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func orDefaultInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}
