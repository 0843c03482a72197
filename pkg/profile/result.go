package profile

import (
	"errors"
	"fmt"
)

// LayerStatus is the state of one layer in a cluster.
type LayerStatus string

// Layer states.
const (
	// StatusApplied: every object of the layer is as the profile says.
	StatusApplied LayerStatus = "Applied"
	// StatusDrifted: Diff found objects missing, changed or left over.
	StatusDrifted LayerStatus = "Drifted"
	// StatusFailed: applying or diffing the layer failed (see Message).
	StatusFailed LayerStatus = "Failed"
	// StatusSkipped: not applied because an earlier layer failed.
	StatusSkipped LayerStatus = "Skipped"
	// StatusRemoved: the layer is no longer in the profile; its objects
	// (or its Helm release) were removed from the cluster.
	StatusRemoved LayerStatus = "Removed"
)

// Action is what Apply did to one object.
type Action string

// Actions.
const (
	ActionCreated    Action = "created"
	ActionConfigured Action = "configured"
	ActionUnchanged  Action = "unchanged"
	ActionPruned     Action = "pruned"
	// ActionOrphaned: a Namespace or CRD that left the layer is kept (with
	// everything in it) and forgotten; delete it by hand if it should go.
	ActionOrphaned Action = "orphaned"
	ActionFailed   Action = "failed"
)

// DriftReason is why Diff reports an object.
type DriftReason string

// Drift reasons.
const (
	// DriftMissing: the profile has the object, the cluster does not.
	DriftMissing DriftReason = "Missing"
	// DriftChanged: fields the profile sets have other values in the
	// cluster.
	DriftChanged DriftReason = "Changed"
	// DriftExtra: the cluster still has an object that an earlier apply
	// of the layer made and the profile no longer has; Apply prunes it.
	DriftExtra DriftReason = "Extra"
)

// Result is the outcome of Apply or Diff of one profile on one cluster.
type Result struct {
	Profile string        `json:"profile"`
	Version string        `json:"version"`
	Layers  []LayerResult `json:"layers"`
}

// LayerResult is the status of one layer.
type LayerResult struct {
	Name    string      `json:"name"`
	Kind    LayerKind   `json:"kind"`
	Status  LayerStatus `json:"status"`
	Message string      `json:"message,omitempty"`
	// Objects is what Apply did, object by object.
	Objects []ObjectResult `json:"objects,omitempty"`
	// Drift is what Diff found (empty when the layer is Applied).
	Drift []Drift `json:"drift,omitempty"`
	// Release is the Helm release of a Helm layer.
	Release *Release `json:"release,omitempty"`
}

// ObjectResult is what Apply did to one object.
type ObjectResult struct {
	Object ObjectRef `json:"object"`
	Action Action    `json:"action"`
	Error  string    `json:"error,omitempty"`
}

// Drift is one object that differs from the profile.
type Drift struct {
	Object ObjectRef   `json:"object"`
	Reason DriftReason `json:"reason"`
	// Fields are the paths (e.g. "spec.replicas") whose values differ, for
	// Changed; the first few only.
	Fields  []string `json:"fields,omitempty"`
	Message string   `json:"message,omitempty"`
}

// Release describes a Helm layer's release.
type Release struct {
	Name         string `json:"name"`
	Namespace    string `json:"namespace"`
	Revision     int    `json:"revision"`
	Status       string `json:"status"`
	Chart        string `json:"chart"`
	ChartVersion string `json:"chartVersion"`
}

// Err returns an error naming the failed layers, or nil.
func (r *Result) Err() error {
	var errs []error
	for _, l := range r.Layers {
		if l.Status == StatusFailed {
			errs = append(errs, fmt.Errorf("layer %s: %s", l.Name, l.Message))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("profile %s version %s: %w", r.Profile, r.Version, err)
	}
	return nil
}

// Drifted tells whether any layer drifted (or could not be diffed).
func (r *Result) Drifted() bool {
	for _, l := range r.Layers {
		if l.Status == StatusDrifted || l.Status == StatusFailed {
			return true
		}
	}
	return false
}
