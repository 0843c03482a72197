package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"

	"github.com/nestcluster/nest/pkg/hub/client"
)

// crud is a resource for one kind of hub object: it does what every
// resource does the same way (read the plan, call the hub, report the
// hub's errors on the attributes they name, drop a deleted object from
// the state, ignore "not found" on delete, parse import IDs) and leaves
// each kind to say only how its model maps to hub calls. M is the
// Terraform model (a struct with tfsdk tags), O what the hub returns.
//
// A new kind is a model, a schema and these functions; see project.go.
type crud[M, O any] struct {
	hubResource
	// name is the type's suffix (nest_NAME), what its article in errors
	// ("the project").
	name, what string
	schema     schema.Schema
	// attrs are the attributes the hub's field errors may name.
	attrs []string
	// importLayouts are the accepted import IDs, as attribute names.
	importLayouts [][]string

	// create makes the object the plan describes. It must leave nothing
	// behind when it fails: no state is written then.
	create func(ctx context.Context, hub *client.Client, plan *M) (*O, error)
	// get reads the object the state names; a client.IsNotFound error
	// drops it from the state (it is planned for creation again).
	get func(ctx context.Context, hub *client.Client, state *M) (*O, error)
	// update changes the object in place, from the state (with its
	// resourceVersion) to the plan. Nil when every attribute replaces.
	update func(ctx context.Context, hub *client.Client, plan, state *M) (*O, error)
	// remove deletes the object; "not found" counts as done.
	remove func(ctx context.Context, hub *client.Client, state *M) error
	// set writes what the hub returned into the model, normalised so that
	// an unchanged object gives an empty plan.
	set func(m *M, o *O)
	// writeOnly, when set, copies the write-only attributes (which are
	// never in the plan nor the state) from the configuration into the
	// model before create and update.
	writeOnly func(ctx context.Context, cfg tfsdk.Config, m *M) diag.Diagnostics
}

var (
	_ resource.ResourceWithConfigure   = (*crud[struct{}, struct{}])(nil)
	_ resource.ResourceWithImportState = (*crud[struct{}, struct{}])(nil)
)

func (r *crud[M, O]) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_" + r.name
}

func (r *crud[M, O]) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = r.schema
}

func (r *crud[M, O]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan M
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	if r.writeOnly != nil {
		if resp.Diagnostics.Append(r.writeOnly(ctx, req.Config, &plan)...); resp.Diagnostics.HasError() {
			return
		}
	}
	o, err := r.create(ctx, r.hub, &plan)
	if err != nil {
		addHubError(&resp.Diagnostics, "create "+r.what, err, r.attrs...)
		return
	}
	r.set(&plan, o)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *crud[M, O]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state M
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	o, err := r.get(ctx, r.hub, &state)
	if client.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addHubError(&resp.Diagnostics, "read "+r.what, err)
		return
	}
	r.set(&state, o)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *crud[M, O]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	if r.update == nil {
		// Every attribute replaces the object: nothing to change in
		// place, the plan is the state.
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	if r.writeOnly != nil {
		if resp.Diagnostics.Append(r.writeOnly(ctx, req.Config, &plan)...); resp.Diagnostics.HasError() {
			return
		}
	}
	o, err := r.update(ctx, r.hub, &plan, &state)
	if err != nil {
		addHubError(&resp.Diagnostics, "update "+r.what, err, r.attrs...)
		return
	}
	r.set(&plan, o)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *crud[M, O]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state M
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	if err := r.remove(ctx, r.hub, &state); err != nil && !client.IsNotFound(err) {
		addHubError(&resp.Diagnostics, "delete "+r.what, err)
	}
}

func (r *crud[M, O]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importIDs(ctx, req, resp, r.importLayouts...)
}
