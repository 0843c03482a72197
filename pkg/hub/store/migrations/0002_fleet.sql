-- Host clusters, cluster groups and virtual clusters. Kubeconfigs are
-- stored encrypted (package secrets); statuses as JSON text, with the
-- fields lists filter on (phase, host cluster) also in columns.

CREATE TABLE host_clusters (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL,
    kubeconfig_enc   TEXT NOT NULL,
    phase            TEXT NOT NULL,
    status_json      TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL
);

CREATE TABLE cluster_groups (
    id                       TEXT PRIMARY KEY,
    name                     TEXT NOT NULL UNIQUE,
    description              TEXT NOT NULL,
    host_cluster_ids         TEXT NOT NULL,
    quota_json               TEXT NOT NULL,
    max_virtual_clusters     INTEGER NOT NULL,
    oversubscription_percent INTEGER NOT NULL,
    endpoint_type            TEXT NOT NULL,
    default_config           TEXT NOT NULL,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    resource_version         BIGINT NOT NULL
);

-- project_id has no foreign key: a project deleted with force=true goes at
-- once while the reconciler still removes its virtual clusters.
CREATE TABLE virtual_clusters (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    tenant_id          TEXT NOT NULL,
    project_id         TEXT NOT NULL,
    cluster_group_id   TEXT NOT NULL,
    kubernetes_version TEXT NOT NULL,
    quota_json         TEXT NOT NULL,
    config             TEXT NOT NULL,
    paused             INTEGER NOT NULL,
    profiles           TEXT NOT NULL,
    deleting           INTEGER NOT NULL,
    generation         BIGINT NOT NULL,
    host_cluster_id    TEXT NOT NULL,
    phase              TEXT NOT NULL,
    status_json        TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    resource_version   BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX virtual_clusters_project_id ON virtual_clusters (project_id, id);
CREATE INDEX virtual_clusters_cluster_group_id ON virtual_clusters (cluster_group_id, id);
CREATE INDEX virtual_clusters_host_cluster_id ON virtual_clusters (host_cluster_id, id);

-- A tenant's quota over all its virtual clusters (JSON; {} is none).
ALTER TABLE tenants ADD COLUMN quota_json TEXT NOT NULL DEFAULT '{}';
