package kubeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// keepBackups is how many Nest backups of one kubeconfig are kept.
	keepBackups = 5
	// backupInfix marks backups made by Nest; only those are ever pruned.
	backupInfix  = ".nest-backup-"
	backupLayout = "20060102T150405Z"
)

// writeBackup copies data to "<target>.nest-backup-<UTC time>" with mode
// 0600 (kubeconfigs hold credentials). Several backups within one second get
// a "-N" suffix instead of overwriting each other.
func writeBackup(target string, data []byte, now time.Time) (string, error) {
	base := target + backupInfix + now.UTC().Format(backupLayout)
	for seq := 0; ; seq++ {
		path := base
		if seq > 0 {
			path = base + "-" + strconv.Itoa(seq)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create kubeconfig backup %s: %w", path, err)
		}
		_, err = f.Write(data)
		if syncErr := f.Sync(); err == nil {
			err = syncErr
		}
		if closeErr := f.Close(); err == nil {
			err = closeErr
		}
		if err != nil {
			os.Remove(path)
			return "", fmt.Errorf("write kubeconfig backup %s: %w", path, err)
		}
		return path, nil
	}
}

// backupFile is a parsed backup name, ordered by time then sequence.
type backupFile struct {
	path string
	at   time.Time
	seq  int
}

// listBackups returns Nest's backups of target, oldest first. Files that
// merely look similar (other suffixes) are ignored.
func listBackups(target string) ([]backupFile, error) {
	dir, prefix := filepath.Dir(target), filepath.Base(target)+backupInfix
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list kubeconfig backups in %s: %w", dir, err)
	}
	var backups []backupFile
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		stamp, seqText, hasSeq := strings.Cut(rest, "-")
		at, err := time.Parse(backupLayout, stamp)
		if err != nil {
			continue
		}
		seq := 0
		if hasSeq {
			if seq, err = strconv.Atoi(seqText); err != nil || seq < 1 {
				continue
			}
		}
		backups = append(backups, backupFile{path: filepath.Join(dir, e.Name()), at: at, seq: seq})
	}
	slices.SortFunc(backups, func(a, b backupFile) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	return backups, nil
}

// pruneBackups deletes all but the newest keep backups of target.
func pruneBackups(target string, keep int) error {
	backups, err := listBackups(target)
	if err != nil {
		return err
	}
	var errs []error
	for len(backups) > keep {
		if err := os.Remove(backups[0].path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove old backup %s: %w", backups[0].path, err))
		}
		backups = backups[1:]
	}
	return errors.Join(errs...)
}
