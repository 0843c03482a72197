package profile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/nestcluster/nest/pkg/kube"
	nestlog "github.com/nestcluster/nest/pkg/log"
)

// Option configures Apply and Diff.
type Option interface{ apply(*options) error }

type options struct {
	logger  *slog.Logger
	force   bool
	timeout time.Duration
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

// WithLogger sets the logger for progress messages.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) error { o.logger = l; return nil })
}

// WithForceConflicts makes Apply take over the fields that another field
// manager owns, instead of failing on them (off by default).
func WithForceConflicts(force bool) Option {
	return optionFunc(func(o *options) error { o.force = force; return nil })
}

// WithTimeout bounds each wait of Apply: for CustomResourceDefinitions to
// be Established, for new kinds to be served, for a Helm operation
// (default 2 minutes).
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("timeout must be positive, got %s", d)
		}
		o.timeout = d
		return nil
	})
}

// cluster holds the clients of one target cluster for one Apply or Diff.
type cluster struct {
	cfg    *rest.Config
	dyn    dynamic.Interface
	disc   discovery.CachedDiscoveryInterface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	opts   options
	log    *slog.Logger
	// newKinds is set once CRDs were applied: a kind not found is then
	// waited for, since discovery lags behind a new CRD.
	newKinds bool
	// keep holds the keys (ObjectRef.key) of every object of the profile
	// being applied: an object that moved to another layer is not pruned
	// from its old one.
	keep map[ObjectRef]bool
}

// keepRendered fills c.keep from the rendered layers. An object that names
// no namespace is kept under both its cluster-scoped reference and its
// layer's namespace, the kind's scope being unknown until it is mapped.
func (c *cluster) keepRendered(rendered []RenderedLayer) {
	c.keep = map[ObjectRef]bool{}
	for _, rl := range rendered {
		for _, o := range rl.Objects {
			ref := RefOf(o).key()
			c.keep[ref] = true
			if ref.Namespace == "" {
				ref.Namespace = rl.Layer.TargetNamespace()
				c.keep[ref] = true
			}
		}
	}
}

func connect(cfg *rest.Config, opts []Option) (*cluster, error) {
	o := options{logger: nestlog.Discard(), timeout: 2 * time.Minute}
	for _, opt := range opts {
		if err := opt.apply(&o); err != nil {
			return nil, err
		}
	}
	cfg = kube.Tune(cfg)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	disc := memory.NewMemCacheClient(dc)
	return &cluster{
		cfg: cfg, dyn: dyn, disc: disc,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(disc),
		opts:   o, log: o.logger,
	}, nil
}

// mapping returns the REST mapping of a kind. Right after CRDs were
// applied, a kind that is not served yet is waited for.
func (c *cluster) mapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) || !c.newKinds {
		return m, err
	}
	werr := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, c.opts.timeout, false, func(context.Context) (bool, error) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		return err == nil, nil
	})
	if werr != nil && err == nil {
		err = werr
	}
	return m, err
}

// place resolves an object's resource and sets its namespace: the default
// one for a namespaced object that names none, none for a cluster object.
func (c *cluster) place(ctx context.Context, o *unstructured.Unstructured, defaultNamespace string) (dynamic.ResourceInterface, error) {
	m, err := c.mapping(ctx, o.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		o.SetNamespace("")
		return c.dyn.Resource(m.Resource), nil
	}
	if o.GetNamespace() == "" {
		o.SetNamespace(defaultNamespace)
	}
	return c.dyn.Resource(m.Resource).Namespace(o.GetNamespace()), nil
}

// resource resolves the resource of a reference (the object's own
// namespace).
func (c *cluster) resource(ctx context.Context, ref ObjectRef) (dynamic.ResourceInterface, error) {
	m, err := c.mapping(ctx, ref.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return c.dyn.Resource(m.Resource), nil
	}
	return c.dyn.Resource(m.Resource).Namespace(ref.Namespace), nil
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// waitEstablished waits until each named CRD is Established.
func (c *cluster) waitEstablished(ctx context.Context, names []string) error {
	for _, name := range names {
		var last string
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, c.opts.timeout, true, func(ctx context.Context) (bool, error) {
			crd, err := c.dyn.Resource(crdResource).Get(ctx, name, getOptions)
			if err != nil {
				if apierrors.IsNotFound(err) {
					last = "not found"
					return false, nil
				}
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, ci := range conds {
				cond, _ := ci.(map[string]any)
				switch {
				case cond["type"] == "Established" && cond["status"] == "True":
					return true, nil
				case cond["type"] == "NamesAccepted" && cond["status"] == "False":
					return false, fmt.Errorf("names not accepted: %v", cond["message"])
				}
			}
			last = "not Established yet"
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CustomResourceDefinition %s (%s): %w", name, last, err)
		}
	}
	c.newKinds = true
	c.mapper.Reset()
	return nil
}

// restGetter gives Helm the target cluster's clients from a rest.Config,
// with no kubeconfig file.
type restGetter struct {
	c         *cluster
	namespace string
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.c.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.c.disc, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.c.mapper, nil }

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return &clientConfig{cfg: g.c.cfg, namespace: g.namespace}
}

// clientConfig is the clientcmd.ClientConfig of a restGetter.
type clientConfig struct {
	cfg       *rest.Config
	namespace string
}

func (c *clientConfig) RawConfig() (clientcmdapi.Config, error) {
	return *clientcmdapi.NewConfig(), nil
}

func (c *clientConfig) ClientConfig() (*rest.Config, error) { return rest.CopyConfig(c.cfg), nil }

func (c *clientConfig) Namespace() (string, bool, error) { return c.namespace, true, nil }

func (c *clientConfig) ConfigAccess() clientcmd.ConfigAccess { return nil }
