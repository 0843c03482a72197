package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// nest_project: a project of a tenant. Import ID: TENANT_ID/PROJECT_ID.

type projectModel struct {
	ID              types.String `tfsdk:"id"`
	TenantID        types.String `tfsdk:"tenant_id"`
	Name            types.String `tfsdk:"name"`
	DisplayName     types.String `tfsdk:"display_name"`
	ResourceVersion types.Int64  `tfsdk:"resource_version"`
}

func (m *projectModel) set(p *store.Project) {
	m.ID, m.TenantID, m.Name = types.StringValue(p.ID), types.StringValue(p.TenantID), types.StringValue(p.Name)
	m.DisplayName = types.StringValue(p.DisplayName)
	m.ResourceVersion = types.Int64Value(p.ResourceVersion)
}

func newProjectResource() resource.Resource {
	return &crud[projectModel, store.Project]{
		name: "project", what: "the project",
		schema: schema.Schema{
			Description: "A project of a tenant: it groups virtual clusters and the role bindings on them. Import ID: TENANT_ID/PROJECT_ID.",
			Attributes: map[string]schema.Attribute{
				"id":               idAttribute(),
				"tenant_id":        parentAttribute("The id of the project's tenant. Changing it replaces the project.", true),
				"name":             nameAttribute("project"),
				"display_name":     textAttribute("A human-readable name (at most 256 characters)."),
				"resource_version": resourceVersionAttribute(),
			},
		},
		attrs:         []string{"name", "display_name", "tenant_id"},
		importLayouts: [][]string{{"tenant_id", "id"}},
		create: func(ctx context.Context, hub *client.Client, plan *projectModel) (*store.Project, error) {
			return hub.CreateProject(ctx, plan.TenantID.ValueString(),
				api.CreateProjectRequest{Name: plan.Name.ValueString(), DisplayName: plan.DisplayName.ValueString()})
		},
		get: func(ctx context.Context, hub *client.Client, state *projectModel) (*store.Project, error) {
			return hub.GetProject(ctx, state.TenantID.ValueString(), state.ID.ValueString())
		},
		update: func(ctx context.Context, hub *client.Client, plan, state *projectModel) (*store.Project, error) {
			return hub.UpdateProject(ctx, state.TenantID.ValueString(), state.ID.ValueString(),
				api.UpdateProjectRequest{DisplayName: plan.DisplayName.ValueString(), ResourceVersion: state.ResourceVersion.ValueInt64()})
		},
		remove: func(ctx context.Context, hub *client.Client, state *projectModel) error {
			return hub.DeleteProject(ctx, state.TenantID.ValueString(), state.ID.ValueString(), state.ResourceVersion.ValueInt64())
		},
		set: (*projectModel).set,
	}
}

// Data source nest_project: a project found by id or by name.

type projectDataSource struct{ hubDataSource }

func newProjectDataSource() datasource.DataSource { return &projectDataSource{} }

func (d *projectDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func (d *projectDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dsschema.Schema{
		Description: "Looks up a project of a tenant by id or by name.",
		Attributes: map[string]dsschema.Attribute{
			"tenant_id":        dsschema.StringAttribute{Required: true, Description: "The id of the project's tenant."},
			"id":               dsschema.StringAttribute{Optional: true, Computed: true, Description: "The project's id; give id or name."},
			"name":             dsschema.StringAttribute{Optional: true, Computed: true, Description: "The project's name; give id or name."},
			"display_name":     dsschema.StringAttribute{Computed: true, Description: "The project's human-readable name."},
			"resource_version": dsschema.Int64Attribute{Computed: true, Description: "The project's resourceVersion."},
		},
	}
}

func (d *projectDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m projectModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	tenantID := m.TenantID.ValueString()
	var p *store.Project
	var err error
	switch {
	case m.ID.ValueString() != "" && m.Name.ValueString() != "", m.ID.ValueString() == "" && m.Name.ValueString() == "":
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Give id or name", "Exactly one of id and name finds the project.")
		return
	case m.ID.ValueString() != "":
		p, err = d.hub.GetProject(ctx, tenantID, m.ID.ValueString())
	default:
		var page store.Page[store.Project]
		page, err = d.hub.ListProjects(ctx, tenantID, client.ListOptions{Filters: map[string]string{"name": m.Name.ValueString()}})
		if err == nil && len(page.Items) == 0 {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "No such project", "Tenant "+tenantID+" has no project named "+m.Name.ValueString()+".")
			return
		}
		if err == nil {
			p = &page.Items[0]
		}
	}
	if err != nil {
		addHubError(&resp.Diagnostics, "read the project", err)
		return
	}
	m.set(p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
