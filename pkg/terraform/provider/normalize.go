package provider

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"k8s.io/apimachinery/pkg/api/resource"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/pkg/hub/store"
)

// Normalisation of what the hub returns: values equal in meaning to what
// the state (or plan) holds keep the user's spelling, so that a second
// plan is empty; values that differ are the hub's, so that a change made
// outside Terraform shows as a diff.

// sameQuantity tells whether two Kubernetes quantities are equal ("1000m"
// and "1"); strings that do not parse are compared as they are.
func sameQuantity(a, b string) bool {
	if a == b {
		return true
	}
	qa, errA := resource.ParseQuantity(a)
	qb, errB := resource.ParseQuantity(b)
	return errA == nil && errB == nil && qa.Cmp(qb) == 0
}

// quantityValue is the hub's quantity hub, spelled as prior when they are
// equal; "" is null.
func quantityValue(prior types.String, hub string) types.String {
	if hub == "" {
		return types.StringNull()
	}
	if !prior.IsNull() && !prior.IsUnknown() && sameQuantity(prior.ValueString(), hub) {
		return prior
	}
	return types.StringValue(hub)
}

// sameYAML tells whether two YAML texts hold the same data (whitespace,
// comments, key order and quoting aside); "" is no data.
func sameYAML(a, b string) bool {
	if a == b {
		return true
	}
	var va, vb any
	if yaml.Unmarshal([]byte(a), &va) != nil || yaml.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// yamlValue is the hub's YAML text, or prior when it holds the same data.
func yamlValue(prior types.String, hub string) types.String {
	if !prior.IsNull() && !prior.IsUnknown() && sameYAML(prior.ValueString(), hub) {
		return prior
	}
	if hub == "" {
		return types.StringNull()
	}
	return types.StringValue(hub)
}

// yamlRequiresReplace replaces the object when the YAML text changes in
// meaning; a change of spelling only is an in-place update that keeps the
// new text.
func yamlRequiresReplace(description string) planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		if req.PlanValue.IsUnknown() || req.StateValue.IsNull() {
			return
		}
		resp.RequiresReplace = !sameYAML(req.StateValue.ValueString(), req.PlanValue.ValueString())
	}, description, description)
}

// yamlValidator checks that a string is YAML.
type yamlValidator struct{}

func (yamlValidator) Description(context.Context) string { return "must be a YAML document" }
func (v yamlValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (yamlValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var v any
	if err := yaml.Unmarshal([]byte(req.ConfigValue.ValueString()), &v); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid YAML", err.Error())
	}
}

// quantityValidator checks that a string is a non-negative Kubernetes
// quantity, as the hub does, so that a plan already fails.
type quantityValidator struct{}

func (quantityValidator) Description(context.Context) string {
	return "must be a Kubernetes quantity such as 2, 500m or 4Gi"
}
func (v quantityValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (v quantityValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	q, err := resource.ParseQuantity(req.ConfigValue.ValueString())
	if err != nil || q.Sign() < 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid quantity", fmt.Sprintf("%q %s", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

// objectAsOptions reads nested objects with unknown or null parts.
var objectAsOptions = basetypes.ObjectAsOptions{UnhandledNullAsEmpty: true, UnhandledUnknownAsEmpty: true}

// Quotas: an object of four optional quantities.

type quotaModel struct {
	CPU     types.String `tfsdk:"cpu"`
	Memory  types.String `tfsdk:"memory"`
	Storage types.String `tfsdk:"storage"`
	Pods    types.String `tfsdk:"pods"`
}

var quotaTypes = map[string]attr.Type{"cpu": types.StringType, "memory": types.StringType, "storage": types.StringType, "pods": types.StringType}

// quotaAttribute is a quota the hub completes (from the cluster group):
// what is not configured is the hub's, kept from the state.
func quotaAttribute(description string) schema.SingleNestedAttribute {
	dim := func(d string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Computed: true, Description: d + ", as a Kubernetes quantity.",
			Validators: []validator.String{quantityValidator{}}, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}}
	}
	return schema.SingleNestedAttribute{Optional: true, Computed: true, Description: description,
		PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
		Attributes: map[string]schema.Attribute{
			"cpu":     dim("CPU (requests)"),
			"memory":  dim("Memory (requests)"),
			"storage": dim("Storage (requests of persistent volume claims)"),
			"pods":    dim("Number of pods"),
		}}
}

// quotaOf reads the known values of a quota object ("" for the others).
func quotaOf(ctx context.Context, o types.Object) (store.Resources, diag.Diagnostics) {
	if o.IsNull() || o.IsUnknown() {
		return store.Resources{}, nil
	}
	var m quotaModel
	diags := o.As(ctx, &m, objectAsOptions)
	known := func(s types.String) string {
		if s.IsUnknown() || s.IsNull() {
			return ""
		}
		return s.ValueString()
	}
	return store.Resources{CPU: known(m.CPU), Memory: known(m.Memory), Storage: known(m.Storage), Pods: known(m.Pods)}, diags
}

// quotaValue is the hub's quota, spelled as prior where equal.
func quotaValue(ctx context.Context, prior types.Object, hub store.Resources) types.Object {
	var p quotaModel
	if !prior.IsNull() && !prior.IsUnknown() {
		_ = prior.As(ctx, &p, objectAsOptions)
	}
	return types.ObjectValueMust(quotaTypes, map[string]attr.Value{
		"cpu":     quantityValue(p.CPU, hub.CPU),
		"memory":  quantityValue(p.Memory, hub.Memory),
		"storage": quantityValue(p.Storage, hub.Storage),
		"pods":    quantityValue(p.Pods, hub.Pods),
	})
}

// Timeouts: a plain block of Go durations.

type timeoutsModel struct {
	Create types.String `tfsdk:"create"`
	Update types.String `tfsdk:"update"`
	Delete types.String `tfsdk:"delete"`
}

// durationValidator checks a positive Go duration.
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "must be a positive duration such as 30s, 10m or 1h"
}
func (v durationValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (v durationValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%q %s", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

func timeoutsAttribute(create, update, del time.Duration) schema.SingleNestedAttribute {
	d := func(op, def string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Validators: []validator.String{durationValidator{}},
			Description: "How long " + op + " may take, as a Go duration (default " + def + ")."}
	}
	return schema.SingleNestedAttribute{Optional: true, Description: "How long each operation may wait for the hub's reconciler.",
		Attributes: map[string]schema.Attribute{
			"create": d("a create", create.String()),
			"update": d("an update", update.String()),
			"delete": d("a delete", del.String()),
		}}
}

// timeout returns the duration of one operation: the configured one, else
// def.
func timeout(ctx context.Context, o types.Object, op string, def time.Duration) time.Duration {
	if o.IsNull() || o.IsUnknown() {
		return def
	}
	var m timeoutsModel
	if o.As(ctx, &m, objectAsOptions).HasError() {
		return def
	}
	v := map[string]types.String{"create": m.Create, "update": m.Update, "delete": m.Delete}[op]
	if d, err := time.ParseDuration(v.ValueString()); err == nil && d > 0 {
		return d
	}
	return def
}

// yamlDocs parses a multi-document YAML stream into its documents' data,
// empty documents left out.
func yamlDocs(s string) ([]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(s)))
	var docs []any
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return nil, err
		}
		if v != nil {
			docs = append(docs, v)
		}
	}
}

// sameManifests tells whether two multi-document YAML streams hold the
// same documents in the same order (whitespace, comments, key order,
// quoting and empty documents aside).
func sameManifests(a, b string) bool {
	if a == b {
		return true
	}
	da, errA := yamlDocs(a)
	db, errB := yamlDocs(b)
	return errA == nil && errB == nil && reflect.DeepEqual(da, db)
}

// manifestsValue is the hub's manifests, or prior when they hold the same
// documents; "" is null.
func manifestsValue(prior types.String, hub string) types.String {
	if !prior.IsNull() && !prior.IsUnknown() && sameManifests(prior.ValueString(), hub) {
		return prior
	}
	return optionalString(hub)
}

// manifestsValidator checks that a string is a YAML stream.
type manifestsValidator struct{}

func (manifestsValidator) Description(context.Context) string {
	return "must be YAML documents separated by ---"
}
func (v manifestsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (manifestsValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := yamlDocs(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid YAML", err.Error())
	}
}
