-- The auth epoch: one row whose number every committed change of users,
-- API keys, teams and their members, roles, role bindings, tenants and
-- projects increases (in the store, in the changing transaction). The
-- hub keeps authenticated principals while it stays the same, on every
-- replica, instead of loading them on every request.

CREATE TABLE auth_epoch (
    id    INTEGER PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (1, 0);
