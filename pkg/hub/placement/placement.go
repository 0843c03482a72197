// Package placement chooses the host cluster of a new virtual cluster: the
// healthy host of its cluster group with the most free capacity, where a
// host's capacity is its nodes' allocatable resources raised by the group's
// oversubscription and its use is the sum of the quotas of the virtual
// clusters already placed on it. It is a pure function of its input.
package placement

import (
	"errors"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nestcluster/nest/pkg/hub/store"
)

// Errors callers check with errors.Is.
var (
	// ErrGroupFull is a group at its maximum number of virtual clusters.
	ErrGroupFull = errors.New("the cluster group has reached its maximum number of virtual clusters")
	// ErrNoCapacity is a quota no healthy host of the group can take.
	ErrNoCapacity = errors.New("no healthy host cluster of the group has room for this quota")
)

// Host is one candidate.
type Host struct {
	ID    string
	Ready bool
	// Capacity is the host's allocatable resources.
	Capacity store.Resources
	// Placed is the sum of the quotas already placed on it.
	Placed store.Resources
}

// Request is what is to be placed, and the group's rules.
type Request struct {
	Quota                   store.Resources
	OversubscriptionPercent int
	// MaxVirtualClusters is the group's limit (0: none), Existing how many
	// virtual clusters the group has.
	MaxVirtualClusters int
	Existing           int
}

// Dimensions are the resource kinds, in the order they are compared.
var Dimensions = []string{"cpu", "memory", "storage", "pods"}

// Get returns one dimension of r.
func Get(r store.Resources, dim string) string {
	switch dim {
	case "cpu":
		return r.CPU
	case "memory":
		return r.Memory
	case "storage":
		return r.Storage
	default:
		return r.Pods
	}
}

// Set sets one dimension of r.
func Set(r *store.Resources, dim, v string) {
	switch dim {
	case "cpu":
		r.CPU = v
	case "memory":
		r.Memory = v
	case "storage":
		r.Storage = v
	default:
		r.Pods = v
	}
}

// Quantity parses one dimension of r; "" is zero.
func Quantity(r store.Resources, dim string) (resource.Quantity, error) {
	s := Get(r, dim)
	if s == "" {
		return resource.Quantity{}, nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return q, fmt.Errorf("%s %q: %w", dim, s, err)
	}
	return q, nil
}

// Add returns a + b, dimension by dimension.
func Add(a, b store.Resources) (store.Resources, error) {
	var out store.Resources
	for _, dim := range Dimensions {
		qa, err := Quantity(a, dim)
		if err != nil {
			return out, err
		}
		qb, err := Quantity(b, dim)
		if err != nil {
			return out, err
		}
		if Get(a, dim) == "" && Get(b, dim) == "" {
			continue
		}
		qa.Add(qb)
		Set(&out, dim, qa.String())
	}
	return out, nil
}

// Fits reports whether want fits in have, dimension by dimension (a
// dimension want leaves empty always fits).
func Fits(want, have store.Resources) (bool, error) {
	for _, dim := range Dimensions {
		if Get(want, dim) == "" {
			continue
		}
		w, err := Quantity(want, dim)
		if err != nil {
			return false, err
		}
		h, err := Quantity(have, dim)
		if err != nil {
			return false, err
		}
		if w.Cmp(h) > 0 {
			return false, nil
		}
	}
	return true, nil
}

// Exceeds reports whether dimension dim of want is more than limit's.
// An empty side is zero.
func Exceeds(want, limit store.Resources, dim string) (bool, error) {
	w, err := Quantity(want, dim)
	if err != nil {
		return false, err
	}
	l, err := Quantity(limit, dim)
	if err != nil {
		return false, err
	}
	return w.Cmp(l) > 0, nil
}

// Place returns the id of the host the request goes to: among the ready
// hosts with room for the quota in every dimension, the one whose scarcest
// dimension keeps the largest free fraction after placement (ties: the
// lowest id, so the answer is stable).
func Place(hosts []Host, req Request) (string, error) {
	if req.MaxVirtualClusters > 0 && req.Existing >= req.MaxVirtualClusters {
		return "", fmt.Errorf("%w (%d)", ErrGroupFull, req.MaxVirtualClusters)
	}
	type scored struct {
		id    string
		score float64
	}
	var fits []scored
	var reasons []string
	for _, h := range hosts {
		if !h.Ready {
			reasons = append(reasons, h.ID+": not ready")
			continue
		}
		score, why, err := free(h, req)
		if err != nil {
			return "", fmt.Errorf("host %s: %w", h.ID, err)
		}
		if why != "" {
			reasons = append(reasons, h.ID+": "+why)
			continue
		}
		fits = append(fits, scored{h.ID, score})
	}
	if len(fits) == 0 {
		if len(hosts) == 0 {
			return "", fmt.Errorf("%w: the group has no host clusters", ErrNoCapacity)
		}
		return "", fmt.Errorf("%w: %v", ErrNoCapacity, reasons)
	}
	sort.Slice(fits, func(i, j int) bool {
		if fits[i].score != fits[j].score {
			return fits[i].score > fits[j].score
		}
		return fits[i].id < fits[j].id
	})
	return fits[0].id, nil
}

// free returns the smallest free fraction over the dimensions after
// placing req on h, or why it does not fit.
func free(h Host, req Request) (float64, string, error) {
	score := 1.0
	for _, dim := range Dimensions {
		capQ, err := Quantity(h.Capacity, dim)
		if err != nil {
			return 0, "", err
		}
		placed, err := Quantity(h.Placed, dim)
		if err != nil {
			return 0, "", err
		}
		want, err := Quantity(req.Quota, dim)
		if err != nil {
			return 0, "", err
		}
		total := capQ.AsApproximateFloat64() * (1 + float64(req.OversubscriptionPercent)/100)
		left := total - placed.AsApproximateFloat64() - want.AsApproximateFloat64()
		if left < 0 {
			return 0, fmt.Sprintf("%s: %s requested, %s of %s (with %d%% oversubscription) left", dim,
				want.String(), fmtFloat(total-placed.AsApproximateFloat64()), fmtFloat(total), req.OversubscriptionPercent), nil
		}
		if total > 0 && left/total < score {
			score = left / total
		}
	}
	return score, "", nil
}

func fmtFloat(f float64) string {
	if f < 0 {
		f = 0
	}
	return resource.NewMilliQuantity(int64(f*1000), resource.DecimalSI).String()
}
