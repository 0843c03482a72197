package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/profile"
)

// maxProfileBytes bounds the body of a cluster profile: its manifests and
// its chart archives, base64 in JSON.
const maxProfileBytes = 8 << 20

// ClusterProfileRequest is one version of a cluster profile: the
// pkg/profile Profile as JSON, Helm charts as archives (base64).
type ClusterProfileRequest struct {
	profile.Profile
}

// validateProfile checks a profile as the hub stores it; errors name the
// field ("layers[1].chart").
func validateProfile(p *profile.Profile) *Error {
	if e := validateName("name", p.Name); e != nil {
		return e
	}
	if e := validateText("description", p.Description, 1024); e != nil {
		return e
	}
	if err := p.Validate(); err != nil {
		return profileError(err)
	}
	for i, l := range p.Layers {
		if l.Chart != nil && l.Chart.Dir != "" {
			return invalid(fmt.Sprintf("layers[%d].chart.dir", i), "the hub takes chart archives only: package the chart (nest profile, or helm package) and send archive")
		}
	}
	// Variables and YAML: render without a cluster.
	if _, err := profile.Render(p, nil); err != nil {
		return profileError(err)
	}
	return nil
}

// profileError turns the first of pkg/profile's "field: message" errors
// into a field error.
func profileError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "invalid profile: ")
	msg, _, _ = strings.Cut(msg, "\n")
	field, text, ok := strings.Cut(msg, ": ")
	if !ok || strings.ContainsAny(field, " ") {
		return invalid("layers", "%s", msg)
	}
	return invalid(field, "%s", text)
}

func (r *ClusterProfileRequest) validate() *Error { return validateProfile(&r.Profile) }

// UpdateClusterProfileRequest is a new version of a cluster profile.
type UpdateClusterProfileRequest struct {
	profile.Profile
	ResourceVersion int64 `json:"resourceVersion"`
}

func (r *UpdateClusterProfileRequest) validate() *Error {
	return firstError(validateProfile(&r.Profile), validateVersion(r.ResourceVersion))
}

// ClusterProfileVersionList lists the versions of a profile.
type ClusterProfileVersionList struct {
	Items []store.ClusterProfileVersion `json:"items"`
}

// summary is a profile without its spec, for lists and audit events (the
// spec is in the versions).
func summary(p *store.ClusterProfile) *store.ClusterProfile {
	s := *p
	s.Spec = nil
	return &s
}

func listClusterProfiles(c *call, _ *none) (store.Page[store.ClusterProfile], error) {
	page, err := list(c, c.store().ClusterProfiles, map[string]string{"name": "name"}, nil)
	for i := range page.Items {
		page.Items[i].Spec = nil
	}
	return page, err
}

func getClusterProfile(c *call, _ *none) (*store.ClusterProfile, error) {
	return get(c, c.store().ClusterProfiles, "clusterprofile", nil)
}

func createClusterProfile(c *call, req *ClusterProfileRequest) (*store.ClusterProfile, error) {
	spec, err := json.Marshal(&req.Profile)
	if err != nil {
		return nil, err
	}
	p := &store.ClusterProfile{Meta: store.Meta{Name: req.Name}, Description: req.Description, Version: req.Version, Spec: spec}
	if err := c.store().ClusterProfiles.Create(c.ctx, p); err != nil {
		return nil, err
	}
	if err := c.store().AddProfileVersion(c.ctx, &store.ClusterProfileVersion{ProfileID: p.ID, Version: p.Version, Spec: spec}); err != nil {
		return nil, err
	}
	return p, c.record(p.ID, nil, summary(p))
}

// updateClusterProfile stores a new version and makes it the current one;
// the virtual clusters that follow the profile's latest version get it.
func updateClusterProfile(c *call, req *UpdateClusterProfileRequest) (*store.ClusterProfile, error) {
	p, err := getClusterProfile(c, nil)
	if err != nil {
		return nil, err
	}
	if req.Name != p.Name {
		return nil, invalid("name", "cannot change: the profile is %s", p.Name)
	}
	if _, err := c.store().ProfileVersion(c.ctx, p.ID, req.Version); err == nil {
		return nil, conflict("version", "profile %s already has version %s: versions are immutable, send a new one", p.Name, req.Version)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	spec, err := json.Marshal(&req.Profile)
	if err != nil {
		return nil, err
	}
	before := summary(p)
	p.ResourceVersion = req.ResourceVersion
	p.Description, p.Version, p.Spec = req.Description, req.Version, spec
	if err := c.store().ClusterProfiles.Update(c.ctx, p); err != nil {
		return nil, err
	}
	if err := c.store().AddProfileVersion(c.ctx, &store.ClusterProfileVersion{ProfileID: p.ID, Version: p.Version, Spec: spec}); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, conflict("version", "profile %s already has version %s", p.Name, req.Version)
		}
		return nil, err
	}
	if err := c.enqueueAllVCs(); err != nil {
		return nil, err
	}
	return p, c.record(p.ID, before, summary(p))
}

// enqueueAllVCs has the reconciler look at every virtual cluster once the
// call commits.
func (c *call) enqueueAllVCs() error {
	if c.api.cfg.Fleet == nil {
		return nil
	}
	vcs, err := c.store().VirtualClusters.All(c.ctx, nil)
	if err != nil {
		return err
	}
	for _, vc := range vcs {
		c.changed("virtualcluster", vc.ID)
	}
	return nil
}

func withoutProfile(refs []store.ProfileRef, id string) []store.ProfileRef {
	out := []store.ProfileRef{}
	for _, r := range refs {
		if r.ProfileID != id {
			out = append(out, r)
		}
	}
	return out
}

// deleteClusterProfile refuses while a group or virtual cluster refers to
// the profile, unless force=true: then the references are dropped too
// (what the profile applied stays in the virtual clusters).
func deleteClusterProfile(c *call, _ *none) (*none, error) {
	p, err := getClusterProfile(c, nil)
	if err != nil {
		return nil, err
	}
	force := c.r.URL.Query().Get("force")
	if force != "" && force != "true" && force != "false" {
		return nil, invalid("force", "must be true or false")
	}
	groups, err := c.store().ClusterGroups.All(c.ctx, nil)
	if err != nil {
		return nil, err
	}
	vcs, err := c.store().VirtualClusters.All(c.ctx, nil)
	if err != nil {
		return nil, err
	}
	var users []string
	for i := range groups {
		g := &groups[i]
		if len(withoutProfile(g.Profiles, p.ID)) == len(g.Profiles) {
			continue
		}
		users = append(users, "cluster group "+g.Name)
		if force != "true" {
			continue
		}
		before := *g
		g.Profiles = withoutProfile(g.Profiles, p.ID)
		if err := c.store().ClusterGroups.Update(c.ctx, g); err != nil {
			return nil, err
		}
		if err := c.recordAs("clustergroup.update", "clustergroup", g.ID, &before, g); err != nil {
			return nil, err
		}
	}
	for i := range vcs {
		vc := &vcs[i]
		if len(withoutProfile(vc.Profiles, p.ID)) == len(vc.Profiles) {
			continue
		}
		users = append(users, "virtual cluster "+vc.Name)
		if force != "true" {
			continue
		}
		before := *vc
		vc.Profiles = withoutProfile(vc.Profiles, p.ID)
		vc.Generation++
		if err := c.store().VirtualClusters.Update(c.ctx, vc); err != nil {
			return nil, err
		}
		if err := c.recordAs("virtualcluster.update", "virtualcluster", vc.ID, &before, vc); err != nil {
			return nil, err
		}
	}
	if len(users) > 0 && force != "true" {
		return nil, conflict("force", "profile %s is attached to %s: detach it first, or delete with ?force=true to detach it too",
			p.Name, strings.Join(users, ", "))
	}
	if len(users) > 0 {
		if err := c.enqueueAllVCs(); err != nil {
			return nil, err
		}
	}
	return remove(c, c.store().ClusterProfiles, summary(p))
}

func listClusterProfileVersions(c *call, _ *none) (*ClusterProfileVersionList, error) {
	p, err := getClusterProfile(c, nil)
	if err != nil {
		return nil, err
	}
	vs, err := c.store().ProfileVersions(c.ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return &ClusterProfileVersionList{Items: vs}, nil
}

func getClusterProfileVersion(c *call, _ *none) (*store.ClusterProfileVersion, error) {
	p, err := getClusterProfile(c, nil)
	if err != nil {
		return nil, err
	}
	return c.store().ProfileVersion(c.ctx, p.ID, c.path("version"))
}

// validateProfileRefs checks the shape of a list of profile references.
func validateProfileRefs(field string, refs []store.ProfileRef) *Error {
	if len(refs) > 32 {
		return invalid(field, "must list at most 32 profiles")
	}
	seen := map[string]bool{}
	for i, r := range refs {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case r.ProfileID == "" || len(r.ProfileID) > 64:
			return invalid(f+".profileId", "must be a cluster profile id")
		case seen[r.ProfileID]:
			return invalid(f+".profileId", "profile %s is listed twice", r.ProfileID)
		case len(r.Version) > 128:
			return invalid(f+".version", "must be at most 128 characters")
		}
		seen[r.ProfileID] = true
	}
	return nil
}

// checkProfileRefs checks that each referenced profile (and pinned
// version) exists and declares the variables the reference overrides.
func (c *call) checkProfileRefs(field string, refs []store.ProfileRef) error {
	for i, r := range refs {
		f := fmt.Sprintf("%s[%d]", field, i)
		p, err := c.store().ClusterProfiles.Get(c.ctx, r.ProfileID)
		if errors.Is(err, store.ErrNotFound) {
			return invalid(f+".profileId", "no cluster profile has id %q", r.ProfileID)
		} else if err != nil {
			return err
		}
		spec := p.Spec
		if r.Version != "" {
			v, err := c.store().ProfileVersion(c.ctx, p.ID, r.Version)
			if errors.Is(err, store.ErrNotFound) {
				return invalid(f+".version", "cluster profile %s has no version %q", p.Name, r.Version)
			} else if err != nil {
				return err
			}
			spec = v.Spec
		}
		var prof profile.Profile
		if err := json.Unmarshal(spec, &prof); err != nil {
			return fmt.Errorf("cluster profile %s: %w", p.ID, err)
		}
		if _, err := prof.ResolveVariables(r.Variables); err != nil {
			return invalid(f+".variables", "%v", err)
		}
	}
	return nil
}

func profileRefs(refs []store.ProfileRef) []store.ProfileRef {
	if refs == nil {
		return []store.ProfileRef{}
	}
	return refs
}

func sameRefs(a, b []store.ProfileRef) bool {
	return reflect.DeepEqual(profileRefs(a), profileRefs(b))
}
