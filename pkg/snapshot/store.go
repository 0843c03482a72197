package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotEmpty is returned by Load when the store already holds keys under
// the prefix: a snapshot is never merged into existing data.
var ErrNotEmpty = errors.New("datastore is not empty")

// pageSize is the number of keys read per range request; every page is
// read at the revision of the first, so the snapshot stays consistent.
const pageSize = 500

// skipped are the keys (relative to the prefix) that a snapshot leaves
// out: they describe running apiserver instances, not the cluster's state,
// and the restored control plane writes its own.
var skipped = []string{
	"/masterleases/",                 // endpoint reconciler leases of apiservers
	"/leases/kube-system/apiserver-", // apiserver identity leases
	"/events/",                       // events expire after an hour anyway
}

// healthKey is written by kine into every store it serves, whenever it
// starts; it is not an object.
const healthKey = "/health"

// Skip reports whether a key, relative to the prefix, is left out of a
// snapshot. Keys bound to an etcd lease (events, master leases) expire by
// design and are always left out: written back without their lease they
// would live forever.
func Skip(key string, lease int64) bool {
	if lease != 0 || key == healthKey {
		return true
	}
	for _, p := range skipped {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Take writes a snapshot of every key under prefix (the keys that start
// with prefix + "/") in the etcd v3 store kv, all read at one revision, to
// w. h describes the cluster; Take fills in its prefix, revision and key
// count, and returns it.
func Take(ctx context.Context, kv clientv3.KV, prefix string, h Header, w io.Writer) (Header, error) {
	h.Prefix = prefix
	h.Revision = 0
	start := prefix + "/"
	end := clientv3.GetPrefixRangeEnd(start)
	var sw *Writer
	for key := start; ; {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if h.Revision != 0 {
			opts = append(opts, clientv3.WithRev(h.Revision))
		}
		resp, err := kv.Get(ctx, key, opts...)
		if err != nil {
			return h, fmt.Errorf("read keys under %s at revision %d: %w", start, h.Revision, err)
		}
		if sw == nil {
			h.Revision = resp.Header.Revision
			if sw, err = NewWriter(w, h); err != nil {
				return h, err
			}
		}
		for _, item := range resp.Kvs {
			rel := strings.TrimPrefix(string(item.Key), prefix)
			if Skip(rel, item.Lease) {
				continue
			}
			if err := sw.Add([]byte(rel), item.Value); err != nil {
				return h, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	n, err := sw.Close()
	h.Keys = n
	return h, err
}

// Count returns the number of keys under prefix, not counting kine's
// health key.
func Count(ctx context.Context, kv clientv3.KV, prefix string) (int64, error) {
	start := prefix + "/"
	resp, err := kv.Get(ctx, start, clientv3.WithRange(clientv3.GetPrefixRangeEnd(start)), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("count keys under %s: %w", start, err)
	}
	n := resp.Count
	if n > 0 {
		health, err := kv.Get(ctx, prefix+healthKey, clientv3.WithCountOnly())
		if err != nil {
			return 0, fmt.Errorf("count keys under %s: %w", start, err)
		}
		n -= health.Count
	}
	return n, nil
}

// Load writes every record of r under prefix into kv, which must hold no
// key under prefix (ErrNotEmpty otherwise). Each key is created with a
// transaction that fails if it exists, the one form of write that both
// etcd and kine accept. It returns the number of keys written.
func Load(ctx context.Context, kv clientv3.KV, prefix string, r *Reader) (int, error) {
	n, err := Count(ctx, kv, prefix)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		return 0, fmt.Errorf("%w: %d keys under %s/", ErrNotEmpty, n, prefix)
	}
	written := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return written, nil
		}
		if err != nil {
			return written, err
		}
		if Skip(string(rec.Key), 0) {
			continue
		}
		key := prefix + string(rec.Key)
		resp, err := kv.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(rec.Value))).
			Commit()
		if err != nil {
			return written, fmt.Errorf("write %s: %w", key, err)
		}
		if !resp.Succeeded {
			return written, fmt.Errorf("write %s: %w: the key exists", key, ErrCorrupt)
		}
		written++
	}
}

// Clear deletes every key under prefix, one transaction per key (kine
// deletes nothing else).
func Clear(ctx context.Context, kv clientv3.KV, prefix string) error {
	start := prefix + "/"
	end := clientv3.GetPrefixRangeEnd(start)
	for {
		resp, err := kv.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(pageSize), clientv3.WithKeysOnly())
		if err != nil {
			return fmt.Errorf("list keys under %s: %w", start, err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		for _, item := range resp.Kvs {
			key := string(item.Key)
			_, err := kv.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(key), "=", item.ModRevision)).
				Then(clientv3.OpDelete(key)).
				Else(clientv3.OpGet(key)).
				Commit()
			if err != nil {
				return fmt.Errorf("delete %s: %w", key, err)
			}
		}
	}
}
