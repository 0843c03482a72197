-- Cluster profiles: the current version of each (spec_json is the
-- pkg/profile Profile in its portable JSON form, chart directories
-- packaged to archives) and every version ever stored, immutable.

CREATE TABLE cluster_profiles (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL,
    version          TEXT NOT NULL,
    spec_json        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL
);

CREATE TABLE cluster_profile_versions (
    profile_id TEXT NOT NULL REFERENCES cluster_profiles (id) ON DELETE CASCADE,
    version    TEXT NOT NULL,
    spec_json  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (profile_id, version)
);

-- The profiles every virtual cluster of a group gets (JSON list of
-- profile references). virtual_clusters.profiles holds the same JSON
-- list; its earlier form, a list of profile ids, still reads (each id a
-- reference that follows the latest version).
ALTER TABLE cluster_groups ADD COLUMN profiles TEXT NOT NULL DEFAULT '[]';
