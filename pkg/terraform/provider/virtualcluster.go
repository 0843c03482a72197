package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// nest_virtual_cluster: a virtual cluster in a project, placed by the hub
// on a host of a cluster group. Create returns once the reconciler made
// it Ready, update once it applied the change, delete once it is gone.
// Import ID: TENANT_ID/PROJECT_ID/VIRTUAL_CLUSTER_ID.

// Default timeouts of the virtual cluster's operations.
const (
	defaultCreateTimeout = 20 * time.Minute
	defaultUpdateTimeout = 20 * time.Minute
	defaultDeleteTimeout = 10 * time.Minute
)

type virtualClusterModel struct {
	ID                types.String `tfsdk:"id"`
	TenantID          types.String `tfsdk:"tenant_id"`
	ProjectID         types.String `tfsdk:"project_id"`
	Name              types.String `tfsdk:"name"`
	ClusterGroupID    types.String `tfsdk:"cluster_group_id"`
	KubernetesVersion types.String `tfsdk:"kubernetes_version"`
	Quota             types.Object `tfsdk:"quota"`
	Profiles          types.List   `tfsdk:"profiles"`
	Config            types.String `tfsdk:"config"`
	Paused            types.Bool   `tfsdk:"paused"`
	Timeouts          types.Object `tfsdk:"timeouts"`
	HostClusterID     types.String `tfsdk:"host_cluster_id"`
	Namespace         types.String `tfsdk:"namespace"`
	Endpoint          types.String `tfsdk:"endpoint"`
	Phase             types.String `tfsdk:"phase"`
	Message           types.String `tfsdk:"message"`
	Kubeconfig        types.String `tfsdk:"kubeconfig"`
	ResourceVersion   types.Int64  `tfsdk:"resource_version"`
}

func (m *virtualClusterModel) ref() client.VirtualClusterRef {
	return client.VirtualClusterRef{TenantID: m.TenantID.ValueString(), ProjectID: m.ProjectID.ValueString(), ID: m.ID.ValueString()}
}

// virtualCluster is what the hub calls of the resource return: the
// virtual cluster and, when it was downloaded, its kubeconfig.
type virtualCluster struct {
	vc *store.VirtualCluster
	// kubeconfig is "" when not downloaded: the state's is kept.
	kubeconfig string
}

func (m *virtualClusterModel) set(o *virtualCluster) {
	ctx := context.Background()
	vc := o.vc
	m.ID, m.TenantID, m.ProjectID = types.StringValue(vc.ID), types.StringValue(vc.TenantID), types.StringValue(vc.ProjectID)
	m.Name, m.ClusterGroupID = types.StringValue(vc.Name), types.StringValue(vc.ClusterGroupID)
	m.KubernetesVersion = types.StringValue(vc.KubernetesVersion)
	m.Quota = quotaValue(ctx, m.Quota, vc.Quota)
	m.Profiles = profileRefsValue(ctx, m.Profiles, vc.Profiles)
	m.Config = yamlValue(m.Config, vc.Config)
	if m.Config.IsNull() {
		m.Config = types.StringValue("")
	}
	m.Paused = types.BoolValue(vc.Paused)
	if m.Timeouts.IsUnknown() {
		m.Timeouts = types.ObjectNull(timeoutsAttrTypes)
	}
	m.HostClusterID, m.Namespace = types.StringValue(vc.Status.HostClusterID), types.StringValue(vc.Status.HostNamespace)
	m.Endpoint, m.Phase, m.Message = types.StringValue(vc.Status.Endpoint), types.StringValue(vc.Status.Phase), types.StringValue(vc.Status.Message)
	switch {
	case o.kubeconfig != "":
		m.Kubeconfig = types.StringValue(o.kubeconfig)
	case m.Kubeconfig.IsUnknown():
		m.Kubeconfig = types.StringValue("")
	}
	m.ResourceVersion = types.Int64Value(vc.ResourceVersion)
}

// spec is the mutable part the plan asks for.
func (m *virtualClusterModel) spec(ctx context.Context) (api.VirtualClusterSpec, error) {
	quota, diags := quotaOf(ctx, m.Quota)
	if diags.HasError() {
		return api.VirtualClusterSpec{}, &attributeError{"quota", "cannot read the quota"}
	}
	profiles, err := profileRefsOf(ctx, m.Profiles)
	if err != nil {
		return api.VirtualClusterSpec{}, err
	}
	version := ""
	if !m.KubernetesVersion.IsUnknown() {
		version = m.KubernetesVersion.ValueString()
	}
	cfg := ""
	if !m.Config.IsUnknown() {
		cfg = m.Config.ValueString()
	}
	return api.VirtualClusterSpec{KubernetesVersion: version, Quota: quota, Config: cfg, Paused: m.Paused.ValueBool(), Profiles: profiles}, nil
}

var timeoutsAttrTypes = map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType}

func newVirtualClusterResource() resource.Resource {
	keep := func() []planmodifier.String { return []planmodifier.String{stringplanmodifier.UseStateForUnknown()} }
	computed := func(d string) schema.StringAttribute { return schema.StringAttribute{Computed: true, Description: d} }
	return &virtualClusterResource{&crud[virtualClusterModel, virtualCluster]{
		name: "virtual_cluster", what: "the virtual cluster",
		schema: schema.Schema{
			Version:     virtualClusterSchemaVersion,
			Description: "A virtual cluster in a project, placed on a host cluster of a cluster group. Create returns once it is Ready with its cluster profiles applied (or fails with the hub's reason), update once the change is applied, delete once it is gone. Import ID: TENANT_ID/PROJECT_ID/VIRTUAL_CLUSTER_ID.",
			Attributes: map[string]schema.Attribute{
				"id":         idAttribute(),
				"tenant_id":  parentAttribute("The id of the tenant of the project. Changing it replaces the virtual cluster.", true),
				"project_id": parentAttribute("The id of the project. Changing it replaces the virtual cluster.", true),
				"name": schema.StringAttribute{Required: true, Description: "The virtual cluster's name: a DNS label of at most 50 characters. Changing it replaces the virtual cluster.",
					Validators: []validator.String{dnsLabel{}, maxLength(50)}, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
				"cluster_group_id": parentAttribute("The id of the cluster group the virtual cluster is placed on. Changing it replaces the virtual cluster.", true),
				"kubernetes_version": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: keep(),
					Description: "The Kubernetes version (default: the one the hub runs). Changing it upgrades in place."},
				"quota":    quotaAttribute("The virtual cluster's quota; what is not set is the cluster group's. Changing it resizes in place. Quantities are compared by value (1000m is 1)."),
				"profiles": profileRefsAttribute("The cluster profiles applied to the virtual cluster, in order, after its cluster group's: each {id, version, variables}. Changing them updates in place (the hub's reconciler applies the change)."),
				"config": schema.StringAttribute{Optional: true, Computed: true, Validators: []validator.String{yamlValidator{}},
					PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), yamlRequiresReplace("A change of the configuration's meaning replaces the virtual cluster.")},
					Description:   "The virtual cluster's nest.yaml (default: the cluster group's default_config). Compared by meaning: whitespace, comments and key order are no change; any other change replaces the virtual cluster."},
				"paused": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
					Description: "Whether the virtual cluster is paused: its control plane stopped and its pods off the host, its state kept. Toggles in place."},
				"timeouts":        timeoutsAttribute(defaultCreateTimeout, defaultUpdateTimeout, defaultDeleteTimeout),
				"host_cluster_id": schema.StringAttribute{Computed: true, PlanModifiers: keep(), Description: "The id of the host cluster the virtual cluster runs on."},
				"namespace":       schema.StringAttribute{Computed: true, PlanModifiers: keep(), Description: "The host namespace of the virtual cluster."},
				"endpoint":        computed("The URL of the virtual cluster's apiserver (empty while paused)."),
				"phase":           computed("The reconciler's phase: Pending, Provisioning, Ready, Paused, Failed, Unknown or Deleting."),
				"message":         computed("The reconciler's last message, such as the reason of a failure."),
				"kubeconfig": schema.StringAttribute{Computed: true, Sensitive: true,
					Description: "The admin kubeconfig of the virtual cluster, downloaded when it is Ready (each download is in the hub's audit log); empty while it never was Ready."},
				"resource_version": resourceVersionAttribute(),
			},
		},
		attrs:         []string{"name", "cluster_group_id", "kubernetes_version", "quota", "config", "paused", "profiles"},
		importLayouts: [][]string{{"tenant_id", "project_id", "id"}},
		create:        createVirtualCluster,
		get:           getVirtualCluster,
		update:        updateVirtualCluster,
		remove:        deleteVirtualCluster,
		set:           (*virtualClusterModel).set,
	}}
}

// createKey is the Idempotency-Key of a create: the same request (tenant,
// project and body) sends the same key, so an apply retried after a
// timeout finds the cluster the first one made instead of making another.
func createKey(tenantID, projectID string, req api.CreateVirtualClusterRequest) string {
	body, _ := json.Marshal(req)
	sum := sha256.Sum256(append([]byte(tenantID+"/"+projectID+"\n"), body...))
	return "terraform-" + hex.EncodeToString(sum[:16])
}

func createVirtualCluster(ctx context.Context, hub *client.Client, plan *virtualClusterModel) (*virtualCluster, error) {
	spec, err := plan.spec(ctx)
	if err != nil {
		return nil, err
	}
	tenantID, projectID := plan.TenantID.ValueString(), plan.ProjectID.ValueString()
	req := api.CreateVirtualClusterRequest{Name: plan.Name.ValueString(), ClusterGroupID: plan.ClusterGroupID.ValueString(), VirtualClusterSpec: spec}
	vc, err := hub.CreateVirtualCluster(ctx, tenantID, projectID, req, client.WithIdempotencyKey(createKey(tenantID, projectID, req)))
	if err != nil {
		return nil, err
	}
	ref := client.VirtualClusterRef{TenantID: tenantID, ProjectID: projectID, ID: vc.ID}
	if _, err := hub.GetVirtualCluster(ctx, ref); client.IsNotFound(err) {
		// The key replayed the create of a cluster deleted since: this
		// is a new one.
		if vc, err = hub.CreateVirtualCluster(ctx, tenantID, projectID, req); err != nil {
			return nil, err
		}
		ref.ID = vc.ID
	}
	wait := timeout(ctx, plan.Timeouts, "create", defaultCreateTimeout)
	start := time.Now()
	vc, err = waitSettled(ctx, hub, ref, wait)
	if err == nil {
		vc, err = waitProfiles(ctx, hub, vc, wait-time.Since(start))
	}
	if errors.Is(err, client.ErrVirtualClusterFailed) {
		// A failed create leaves nothing behind.
		derr := removeAndWait(ctx, hub, ref, timeout(ctx, plan.Timeouts, "delete", defaultDeleteTimeout))
		if derr != nil {
			return nil, fmt.Errorf("virtual cluster %s failed, and removing it failed too (%v): %w", ref, derr, err)
		}
		return nil, fmt.Errorf("virtual cluster %s was removed: %w", ref, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w\n\nThe virtual cluster %s stays on the hub: applying the same configuration again waits for it (the create is idempotent) rather than making a second one", err, ref)
	}
	return withKubeconfig(ctx, hub, vc, "")
}

// waitSettled waits (at most d) until the reconciler applied the virtual
// cluster's latest generation.
func waitSettled(ctx context.Context, hub *client.Client, ref client.VirtualClusterRef, d time.Duration) (*store.VirtualCluster, error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	vc, err := hub.WaitVirtualCluster(wctx, ref, client.Settled)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return vc, fmt.Errorf("timed out after %s: %w", d, err)
	}
	return vc, err
}

// removeAndWait deletes a virtual cluster and waits (at most d) until it
// is gone from the hub.
func removeAndWait(ctx context.Context, hub *client.Client, ref client.VirtualClusterRef, d time.Duration) error {
	if err := hub.DeleteVirtualCluster(ctx, ref, 0); err != nil {
		if client.IsNotFound(err) {
			return nil
		}
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := hub.WaitVirtualCluster(wctx, ref, client.Gone)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("timed out after %s: %w", d, err)
	}
	return err
}

// withKubeconfig downloads the kubeconfig of a Ready virtual cluster
// unless known is for its endpoint already.
func withKubeconfig(ctx context.Context, hub *client.Client, vc *store.VirtualCluster, known string) (*virtualCluster, error) {
	out := &virtualCluster{vc: vc}
	if known != "" || vc.Status.Phase != store.VCReady {
		return out, nil
	}
	kc, err := hub.GetVirtualClusterKubeconfig(ctx, client.VirtualClusterRef{TenantID: vc.TenantID, ProjectID: vc.ProjectID, ID: vc.ID})
	if err != nil {
		return nil, fmt.Errorf("download the kubeconfig: %w", err)
	}
	out.kubeconfig = kc.Kubeconfig
	return out, nil
}

func getVirtualCluster(ctx context.Context, hub *client.Client, state *virtualClusterModel) (*virtualCluster, error) {
	vc, err := hub.GetVirtualCluster(ctx, state.ref())
	if err != nil {
		return nil, err
	}
	if vc.Deleting {
		// Being deleted outside Terraform: gone, as far as plans go.
		return nil, &client.Error{Status: http.StatusNotFound, Code: client.CodeNotFound, Message: "the virtual cluster is being deleted"}
	}
	known := state.Kubeconfig.ValueString()
	if vc.Status.Endpoint != state.Endpoint.ValueString() {
		known = "" // a new endpoint (a resume): a new kubeconfig
	}
	return withKubeconfig(ctx, hub, vc, known)
}

func updateVirtualCluster(ctx context.Context, hub *client.Client, plan, state *virtualClusterModel) (*virtualCluster, error) {
	spec, err := plan.spec(ctx)
	if err != nil {
		return nil, err
	}
	spec.Config = "" // a change of the configuration's meaning replaces; one of spelling keeps the hub's
	ref := state.ref()
	// The reconciler writes the status all along, which changes the
	// resourceVersion: update from a fresh read, as long as the spec is
	// still the one Terraform read.
	var vc *store.VirtualCluster
	for attempt := 0; ; attempt++ {
		fresh, err := hub.GetVirtualCluster(ctx, ref)
		if err != nil {
			return nil, err
		}
		rv := state.ResourceVersion.ValueInt64()
		if fresh.Generation == generationOf(state, fresh) {
			rv = fresh.ResourceVersion
		}
		vc, err = hub.UpdateVirtualCluster(ctx, ref, api.UpdateVirtualClusterRequest{VirtualClusterSpec: spec, ResourceVersion: rv})
		if err == nil {
			break
		}
		if !client.IsConflict(err) || attempt >= 4 || rv == state.ResourceVersion.ValueInt64() {
			return nil, err
		}
	}
	wait, start := timeout(ctx, plan.Timeouts, "update", defaultUpdateTimeout), time.Now()
	vc, err = waitSettled(ctx, hub, ref, wait)
	if err == nil {
		vc, err = waitProfiles(ctx, hub, vc, wait-time.Since(start))
	}
	if err != nil {
		return nil, err
	}
	known := state.Kubeconfig.ValueString()
	if vc.Status.Endpoint != state.Endpoint.ValueString() {
		known = ""
	}
	out, err := withKubeconfig(ctx, hub, vc, known)
	if err == nil && out.kubeconfig == "" {
		out.kubeconfig = known
	}
	return out, err
}

// generationOf returns fresh's generation when its spec is still the one
// in state (only its status changed since Terraform read it), else -1.
func generationOf(state *virtualClusterModel, fresh *store.VirtualCluster) int64 {
	q, _ := quotaOf(context.Background(), state.Quota)
	refs, err := profileRefsOf(context.Background(), state.Profiles)
	same := err == nil && sameProfileRefs(fresh.Profiles, refs) && fresh.Paused == state.Paused.ValueBool() && fresh.KubernetesVersion == state.KubernetesVersion.ValueString() &&
		sameQuantity(fresh.Quota.CPU, q.CPU) && sameQuantity(fresh.Quota.Memory, q.Memory) &&
		sameQuantity(fresh.Quota.Storage, q.Storage) && sameQuantity(fresh.Quota.Pods, q.Pods)
	if !same {
		return -1
	}
	return fresh.Generation
}

func deleteVirtualCluster(ctx context.Context, hub *client.Client, state *virtualClusterModel) error {
	return removeAndWait(ctx, hub, state.ref(), timeout(ctx, state.Timeouts, "delete", defaultDeleteTimeout))
}

// maxLength checks a string's length.
type maxLength int

func (v maxLength) Description(context.Context) string {
	return fmt.Sprintf("must be at most %d characters", int(v))
}
func (v maxLength) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v maxLength) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if len(req.ConfigValue.ValueString()) > int(v) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid value", fmt.Sprintf("%q %s", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}
