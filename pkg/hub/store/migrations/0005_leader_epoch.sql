-- The leader epoch: one row whose number every replica that takes the
-- leader lock increases. The leader's writes check, in their own
-- transaction, that it is still theirs, so a leader cut off from the
-- database (whose lock another replica took meanwhile) cannot write.

CREATE TABLE leader_epoch (
    id    INTEGER PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO leader_epoch (id, epoch) VALUES (1, 0);
