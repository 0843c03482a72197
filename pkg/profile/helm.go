package profile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"sigs.k8s.io/yaml"
)

// helmMaxHistory bounds the revisions kept per release.
const helmMaxHistory = 10

// LoadChart loads a layer's chart, from its archive or its directory.
func LoadChart(ch *Chart) (*chart.Chart, error) {
	switch {
	case ch == nil:
		return nil, errors.New("no chart")
	case len(ch.Archive) > 0:
		c, err := loader.LoadArchive(bytes.NewReader(ch.Archive))
		if err != nil {
			return nil, fmt.Errorf("load chart archive: %w", err)
		}
		return c, nil
	default:
		c, err := loader.LoadDir(ch.Dir)
		if err != nil {
			return nil, fmt.Errorf("load chart directory %s: %w", ch.Dir, err)
		}
		return c, nil
	}
}

// Portable returns a copy of the profile whose charts are all archives
// (chart directories packaged as Helm does), so that it is whole without
// the local disk: what the hub stores as a profile version, as JSON.
func (p *Profile) Portable() (*Profile, error) {
	out := *p
	out.Layers = slices.Clone(p.Layers)
	for i := range out.Layers {
		l := &out.Layers[i]
		if l.Chart == nil || l.Chart.Dir == "" {
			continue
		}
		ch, err := LoadChart(l.Chart)
		if err != nil {
			return nil, fmt.Errorf("layers[%d].chart: %w", i, err)
		}
		tmp, err := os.MkdirTemp("", "nest-chart-")
		if err != nil {
			return nil, err
		}
		var data []byte
		path, err := chartutil.Save(ch, tmp)
		if err == nil {
			data, err = os.ReadFile(path)
		}
		_ = os.RemoveAll(tmp)
		if err != nil {
			return nil, fmt.Errorf("layers[%d].chart: package %s: %w", i, l.Chart.Dir, err)
		}
		l.Chart = &Chart{Archive: data}
	}
	return &out, nil
}

// helmConfig returns Helm's action configuration for releases in namespace,
// stored as Secrets (Helm's default).
func (c *cluster) helmConfig(namespace string) (*action.Configuration, error) {
	cfg := new(action.Configuration)
	log := func(format string, v ...any) { c.log.Debug(fmt.Sprintf(format, v...), "component", "helm") }
	if err := cfg.Init(&restGetter{c: c, namespace: namespace}, namespace, "secret", log); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return cfg, nil
}

// lastRelease returns a release's latest revision, or nil when there is
// none.
func lastRelease(cfg *action.Configuration, name string) (*release.Release, error) {
	h := action.NewHistory(cfg)
	h.Max = 1
	rels, err := h.Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) || err == nil && len(rels) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history of release %s: %w", name, err)
	}
	last := rels[0]
	for _, r := range rels {
		if r.Version > last.Version {
			last = r
		}
	}
	return last, nil
}

func releaseInfo(r *release.Release) *Release {
	if r == nil {
		return nil
	}
	out := &Release{Name: r.Name, Namespace: r.Namespace, Revision: r.Version}
	if r.Info != nil {
		out.Status = r.Info.Status.String()
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		out.Chart, out.ChartVersion = r.Chart.Metadata.Name, r.Chart.Metadata.Version
	}
	return out
}

// applyHelm installs or upgrades a Helm layer's release. CRDs in the
// chart's crds/ directory are installed first by Helm (on install only, as
// Helm does); every rendered object is labelled like manifests are.
func (c *cluster) applyHelm(ctx context.Context, p *Profile, rl RenderedLayer, prev *inventoryLayer) (LayerResult, *inventoryLayer) {
	l := rl.Layer
	ns, name := l.TargetNamespace(), l.ReleaseName()
	lr := LayerResult{Name: l.Name, Kind: l.Kind}
	inv := &inventoryLayer{Kind: KindHelm, Release: name, Namespace: ns}
	fail := func(err error) (LayerResult, *inventoryLayer) {
		lr.Status, lr.Message = StatusFailed, err.Error()
		if prev != nil && prev.Kind == KindHelm && (prev.Release != name || prev.Namespace != ns) {
			// The release moved: keep the old one on the books so that
			// it is removed once this one is in place.
			return lr, prev
		}
		return lr, inv
	}
	ch, err := LoadChart(l.Chart)
	if err != nil {
		return fail(err)
	}
	cfg, err := c.helmConfig(ns)
	if err != nil {
		return fail(err)
	}
	last, err := lastRelease(cfg, name)
	if err != nil {
		return fail(err)
	}
	labels := map[string]string{LabelProfile: p.Name, LabelLayer: l.Name}
	post := &labeller{profile: p, layer: l}
	var rel *release.Release
	if last == nil {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace, in.CreateNamespace = name, ns, true
		in.Timeout, in.Labels, in.PostRenderer = c.opts.timeout, labels, post
		in.Description = fmt.Sprintf("profile %s version %s", p.Name, p.Version)
		rel, err = in.RunWithContext(ctx, ch, rl.Values)
	} else {
		up := action.NewUpgrade(cfg)
		up.Namespace, up.ResetValues, up.MaxHistory = ns, true, helmMaxHistory
		up.Timeout, up.Labels, up.PostRenderer = c.opts.timeout, labels, post
		up.Description = fmt.Sprintf("profile %s version %s", p.Name, p.Version)
		rel, err = up.RunWithContext(ctx, name, ch, rl.Values)
	}
	lr.Release = releaseInfo(rel)
	if err != nil {
		return fail(fmt.Errorf("release %s/%s: %w", ns, name, err))
	}
	// A release that moved (another name or namespace) replaces the old one.
	if prev != nil && prev.Kind == KindHelm && (prev.Release != name || prev.Namespace != ns) {
		if err := c.uninstall(ctx, prev.Release, prev.Namespace); err != nil {
			return fail(err)
		}
	}
	lr.Status = StatusApplied
	lr.Message = fmt.Sprintf("release %s/%s revision %d %s", ns, name, rel.Version, rel.Info.Status)
	return lr, inv
}

// uninstall removes a release; one that is gone already is fine.
func (c *cluster) uninstall(ctx context.Context, name, namespace string) error {
	cfg, err := c.helmConfig(namespace)
	if err != nil {
		return err
	}
	u := action.NewUninstall(cfg)
	u.Timeout = c.opts.timeout
	if _, err := u.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("uninstall release %s/%s: %w", namespace, name, err)
	}
	return nil
}

// renderHelm renders a Helm layer's templates as Apply would install
// them, without changing the cluster. The chart's crds/ are left out: Helm
// installs them once, unlabelled, and never upgrades them.
func (c *cluster) renderHelm(ctx context.Context, cfg *action.Configuration, p *Profile, rl RenderedLayer, upgrade bool) (*chart.Chart, *release.Release, error) {
	l := rl.Layer
	ch, err := LoadChart(l.Chart)
	if err != nil {
		return nil, nil, err
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace = l.ReleaseName(), l.TargetNamespace()
	in.DryRun, in.DryRunOption, in.IsUpgrade = true, "client", upgrade
	in.PostRenderer = &labeller{profile: p, layer: l}
	rel, err := in.RunWithContext(ctx, ch, rl.Values)
	if err != nil {
		return nil, nil, fmt.Errorf("render chart: %w", err)
	}
	return ch, rel, nil
}

// labeller is Helm's post-renderer: it labels every rendered object with
// the profile and layer, and annotates it with the version.
type labeller struct {
	profile *Profile
	layer   *Layer
}

func (r *labeller) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	objs, err := parseManifests(in.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("label rendered objects: %w", err)
	}
	out := new(bytes.Buffer)
	for _, o := range objs {
		stamp(o, r.profile, r.layer)
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return out, nil
}
