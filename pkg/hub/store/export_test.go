package store

// LeaderLockKey lets the external tests find the leader's advisory lock.
const LeaderLockKey = leaderLock
