package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	aggregatorinformers "k8s.io/kube-aggregator/pkg/client/informers/externalversions"
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
	// Registered, when set, is called the first time the APIService
	// points here.
	Registered func()
}

// Run listens, registers the API and keeps it registered (see
// keepRegistered), and serves until ctx ends: what the local host
// (pkg/simmetrics) and each virtual cluster (pkg/vmetrics) run.
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
	reg := Registration{Namespace: c.Namespace, Service: c.Service, Host: "localhost", Port: int32(port), CABundle: caPEM} //nolint:gosec // a TCP port
	go c.keepRegistered(ctx, reg)
	return Serve(ctx, l, Config{
		Source: c.Source, Authorizer: c.Client, FrontProxyCAFile: c.FrontProxyCAFile,
		AllowedNames: c.AllowedNames, Serving: cert, Logger: c.Logger,
	})
}

// keepRegistered registers reg, retrying failures with back-off, and again
// whenever its APIService or Service changes or goes (watched by name, no
// polling): a tenant who deletes them gets them back. Objects of those
// names that Nest does not own are left alone (and looked at again when
// they change).
func (c RunConfig) keepRegistered(ctx context.Context, reg Registration) {
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	byName := func(name string) func(*metav1.ListOptions) {
		return func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}
	}
	apiServices := aggregatorinformers.NewSharedInformerFactoryWithOptions(c.APIs, 0, aggregatorinformers.WithTweakListOptions(byName(APIServiceName)))
	services := informers.NewSharedInformerFactoryWithOptions(c.Client, 0, informers.WithNamespace(reg.Namespace), informers.WithTweakListOptions(byName(reg.Service)))
	for _, add := range []func() (cache.ResourceEventHandlerRegistration, error){
		func() (cache.ResourceEventHandlerRegistration, error) {
			return apiServices.Apiregistration().V1().APIServices().Informer().AddEventHandler(handler)
		},
		func() (cache.ResourceEventHandlerRegistration, error) {
			return services.Core().V1().Services().Informer().AddEventHandler(handler)
		},
	} {
		if _, err := add(); err != nil {
			c.Logger.Warn("Metrics API registration is not watched", "err", err)
		}
	}
	apiServices.Start(ctx.Done())
	services.Start(ctx.Done())
	defer apiServices.Shutdown()
	defer services.Shutdown()

	poke()
	delay, registered, refused := 100*time.Millisecond, false, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		err := Register(ctx, c.Client, c.APIs, reg)
		switch {
		case err == nil:
			delay, refused = 100*time.Millisecond, false
			if !registered {
				registered = true
				c.Logger.Info("Metrics API is registered", "apiService", APIServiceName, "port", reg.Port)
				if c.Registered != nil {
					c.Registered()
				}
			}
		case errors.Is(err, ErrNotOwned):
			if !refused {
				refused = true
				c.Logger.Warn("Metrics API is not registered: another one is", "err", err)
			}
		case ctx.Err() != nil:
			return
		default:
			c.Logger.Info("Registering the metrics API failed, retrying", "err", err, "in", delay)
			time.AfterFunc(delay, poke)
			delay = min(2*delay, 10*time.Second)
		}
	}
}
