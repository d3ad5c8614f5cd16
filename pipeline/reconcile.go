package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hibiken/asynq"

	"sohoa/storage"
)

// Reconcile re-enqueues every intake object that has neither a record nor a
// quarantine entry: work Redis lost (a flush, a failover) or that was stored
// while Redis was down. S3 is the system of record, so this is always safe;
// task IDs make duplicates "already queued". It lists the whole intake
// prefix, so run it periodically, not per request.
func Reconcile(ctx context.Context, repo *storage.Repository, q Enqueuer) (int, error) {
	var pending []string
	err := repo.Bucket().List(ctx, storage.IntakeKey(""), func(oi storage.ObjectInfo) error {
		key := strings.TrimPrefix(oi.Key, storage.IntakeKey(""))
		if !validInputKey(key) {
			return nil // the .meta.json companions
		}
		pending = append(pending, key)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reconcile: list intake: %w", err)
	}
	n := 0
	for _, key := range pending {
		done := false
		for _, k := range []string{storage.RecordKey(key), storage.QuarantineKey(key)} {
			ok, err := repo.Exists(ctx, k)
			if err != nil {
				return n, fmt.Errorf("reconcile: %w", err)
			}
			done = done || ok
		}
		if done {
			continue
		}
		_, meta, err := repo.Intake(ctx, key)
		if err != nil {
			return n, fmt.Errorf("reconcile: read intake %s: %w", key, err)
		}
		t, err := NewOCRTask(key, meta.Source == SourceBackfill)
		if err != nil {
			return n, err
		}
		if _, err := q.EnqueueContext(ctx, t); err != nil {
			if errors.Is(err, asynq.ErrTaskIDConflict) {
				continue
			}
			return n, fmt.Errorf("reconcile: enqueue %s: %w", key, err)
		}
		n++
	}
	return n, nil
}
