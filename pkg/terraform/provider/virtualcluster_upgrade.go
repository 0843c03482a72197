package provider

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// virtualClusterResource adds the upgrade of older states to crud.
type virtualClusterResource struct {
	*crud[virtualClusterModel, virtualCluster]
}

var _ resource.ResourceWithUpgradeState = (*virtualClusterResource)(nil)

// virtualClusterSchemaVersion is 1 since profiles became {id, version,
// variables} objects; version 0 held a list of profile ids.
const virtualClusterSchemaVersion = 1

// UpgradeState turns a version 0 state's profile ids into references
// that follow each profile's latest version.
func (r *virtualClusterResource) UpgradeState(context.Context) map[int64]resource.StateUpgrader {
	return map[int64]resource.StateUpgrader{0: {StateUpgrader: func(_ context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
		if req.RawState == nil || req.RawState.JSON == nil {
			resp.Diagnostics.AddError("Cannot upgrade the state", "the state of version 0 is not JSON")
			return
		}
		out, err := profilesV0ToV1(req.RawState.JSON)
		if err != nil {
			resp.Diagnostics.AddError("Cannot upgrade the state", err.Error())
			return
		}
		resp.DynamicValue = &tfprotov6.DynamicValue{JSON: out}
	}}}
}

// profilesV0ToV1 rewrites "profiles": ["ID", ...] of a JSON state as
// "profiles": [{"id": "ID", "version": null, "variables": null}, ...].
func profilesV0ToV1(state []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(state, &m); err != nil {
		return nil, fmt.Errorf("read the state: %w", err)
	}
	var ids []string
	if raw, ok := m["profiles"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &ids); err != nil {
			return nil, fmt.Errorf("read profiles of the state: %w", err)
		}
	}
	type ref struct {
		ID        string            `json:"id"`
		Version   *string           `json:"version"`
		Variables map[string]string `json:"variables"`
	}
	refs := make([]ref, 0, len(ids))
	for _, id := range ids {
		refs = append(refs, ref{ID: id})
	}
	data, err := json.Marshal(refs)
	if err != nil {
		return nil, err
	}
	m["profiles"] = data
	return json.Marshal(m)
}
