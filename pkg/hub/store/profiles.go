package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ProfileRef attaches a cluster profile to a cluster group or a virtual
// cluster.
type ProfileRef struct {
	ProfileID string `json:"profileId"`
	// Version pins a version of the profile; "" follows its current one.
	Version string `json:"version,omitempty"`
	// Variables override the profile's variable defaults.
	Variables map[string]string `json:"variables,omitempty"`
}

// UnmarshalJSON also reads the earlier form of a reference, a bare
// profile id.
// EffectiveProfiles are the profiles a virtual cluster gets: its group's,
// then its own; its own reference to one of the group's profiles replaces
// the group's in its place (its version and variables win). The hub's
// reconciler applies them; the Terraform provider waits for them.
func EffectiveProfiles(group, own []ProfileRef) []ProfileRef {
	out := append([]ProfileRef{}, group...)
	for _, r := range own {
		replaced := false
		for i := range out {
			if out[i].ProfileID == r.ProfileID {
				out[i], replaced = r, true
			}
		}
		if !replaced {
			out = append(out, r)
		}
	}
	return out
}

func (r *ProfileRef) UnmarshalJSON(data []byte) error {
	var id string
	if json.Unmarshal(data, &id) == nil {
		*r = ProfileRef{ProfileID: id}
		return nil
	}
	type plain ProfileRef
	return json.Unmarshal(data, (*plain)(r))
}

// ClusterProfile is a cluster profile with its current version. Spec is
// the pkg/profile Profile of that version as portable JSON (charts as
// archives); lists leave it out.
type ClusterProfile struct {
	Meta
	Description string          `json:"description"`
	Version     string          `json:"version"`
	Spec        json.RawMessage `json:"spec,omitempty"`
}

// ClusterProfileVersion is one immutable version of a cluster profile.
type ClusterProfileVersion struct {
	ProfileID string          `json:"profileId"`
	Version   string          `json:"version"`
	CreatedAt time.Time       `json:"createdAt"`
	Spec      json.RawMessage `json:"spec,omitempty"`
}

func (s *Store) initProfiles() {
	s.ClusterProfiles = newCollection(s, "cluster_profiles", func(o *ClusterProfile) *Meta { return &o.Meta },
		[]string{"description", "version", "spec_json"},
		func(o *ClusterProfile) []any { return []any{&o.Description, &o.Version, rawCol{&o.Spec}} },
		map[string]string{"version": "version"})
	s.ClusterProfiles.beforeDelete = []string{`DELETE FROM cluster_profile_versions WHERE profile_id = ?`}
}

// AddProfileVersion stores one version of a profile; a version the
// profile already has fails with ErrAlreadyExists.
func (s *Store) AddProfileVersion(ctx context.Context, v *ClusterProfileVersion) error {
	v.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	if _, err := s.exec(ctx, `INSERT INTO cluster_profile_versions (profile_id, version, spec_json, created_at) VALUES (?, ?, ?, ?)`,
		v.ProfileID, v.Version, rawCol{&v.Spec}, micros(v.CreatedAt)); err != nil {
		return fmt.Errorf("add version %q of cluster profile %s: %w", v.Version, v.ProfileID, err)
	}
	return nil
}

// ProfileVersion returns one version of a profile, or ErrNotFound.
func (s *Store) ProfileVersion(ctx context.Context, profileID, version string) (*ClusterProfileVersion, error) {
	v := &ClusterProfileVersion{ProfileID: profileID, Version: version}
	var at int64
	err := s.queryRow(ctx, `SELECT spec_json, created_at FROM cluster_profile_versions WHERE profile_id = ? AND version = ?`,
		profileID, version).Scan(rawCol{&v.Spec}, &at)
	if isNoRows(err) {
		return nil, fmt.Errorf("version %q of cluster profile %s: %w", version, profileID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get version %q of cluster profile %s: %w", version, profileID, err)
	}
	v.CreatedAt = fromMicros(at)
	return v, nil
}

// ProfileVersions lists the versions of a profile, oldest first, without
// their specs.
func (s *Store) ProfileVersions(ctx context.Context, profileID string) ([]ClusterProfileVersion, error) {
	rows, err := s.query(ctx, `SELECT version, created_at FROM cluster_profile_versions WHERE profile_id = ? ORDER BY created_at, version`, profileID)
	if err != nil {
		return nil, fmt.Errorf("list versions of cluster profile %s: %w", profileID, err)
	}
	defer rows.Close()
	out := []ClusterProfileVersion{}
	for rows.Next() {
		v := ClusterProfileVersion{ProfileID: profileID}
		var at int64
		if err := rows.Scan(&v.Version, &at); err != nil {
			return nil, fmt.Errorf("list versions of cluster profile %s: %w", profileID, err)
		}
		v.CreatedAt = fromMicros(at)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list versions of cluster profile %s: %w", profileID, err)
	}
	return out, nil
}
