package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"k8s.io/client-go/kubernetes"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
)

// RunConfig of Run.
type RunConfig struct {
	// Addr to listen on (host:port; port 0 picks one).
	Addr   string
	Source Source
	// Client of the apiserver the API is aggregated into, and its
	// APIService client.
	Client           kubernetes.Interface
	APIs             aggregator.Interface
	FrontProxyCAFile string
	AllowedNames     []string
	// Namespace and Service of the registration.
	Namespace, Service string
	Logger             *slog.Logger
	// Registered, when set, is called once the APIService points here.
	Registered func()
}

// Run listens, registers the API (retrying with back-off until it is
// registered; never over objects Nest does not own) and serves until ctx
// ends: what the local host (pkg/simmetrics) and each virtual cluster
// (pkg/vmetrics) run.
func Run(ctx context.Context, c RunConfig) error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	cert, caPEM, err := NewServingCert(c.Namespace, c.Service)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen for the metrics API: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	go func() {
		reg := Registration{Namespace: c.Namespace, Service: c.Service, Host: "localhost", Port: int32(port), CABundle: caPEM} //nolint:gosec // a TCP port
		delay := 100 * time.Millisecond
		for {
			err := Register(ctx, c.Client, c.APIs, reg)
			if err == nil {
				c.Logger.Info("Metrics API is registered", "apiService", APIServiceName, "port", port)
				if c.Registered != nil {
					c.Registered()
				}
				return
			}
			if errors.Is(err, ErrNotOwned) {
				c.Logger.Warn("Metrics API is not registered: another one is", "err", err)
				return
			}
			c.Logger.Info("Registering the metrics API failed, retrying", "err", err, "in", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 10*time.Second)
		}
	}()
	return Serve(ctx, l, Config{
		Source: c.Source, Authorizer: c.Client, FrontProxyCAFile: c.FrontProxyCAFile,
		AllowedNames: c.AllowedNames, Serving: cert, Logger: c.Logger,
	})
}
