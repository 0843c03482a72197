-- Change epochs: one row per collection whose number every committed
-- change of that collection increases (in the store, in the changing
-- transaction). The hub keeps encoded list pages while the epochs they
-- were read at stay the same, on every replica.

CREATE TABLE change_epoch (
    name  TEXT PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO change_epoch (name, epoch) VALUES ('virtual_clusters', 0);
