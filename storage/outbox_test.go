package storage_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

// clockRepo is a repository over a fresh bucket whose clock reads the
// fixtures' issue day.
func clockRepo(t *testing.T) (*storage.Repository, *mem.Bucket) {
	t.Helper()
	b := mem.New()
	r, err := storage.New(b, storage.Options{Keys: storagetest.Keys(), Now: func() time.Time { return day }})
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

func outboxKinds(t *testing.T, r *storage.Repository, id string) []string {
	t.Helper()
	entries, err := r.Outbox(t.Context(), id)
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	var out []string
	for i, e := range entries {
		if e.Seq != i || e.ResultID != id {
			t.Errorf("entry %d: seq %d id %s", i, e.Seq, e.ResultID)
		}
		out = append(out, e.Kind)
	}
	return out
}

// TestOutboxFollowsStatusEvents: issuing, suspending, reinstating, revoking
// and superseding each add exactly one outbox event, at the status event's
// seq; a retried change and a retried File add none.
func TestOutboxFollowsStatusEvents(t *testing.T) {
	r, b := clockRepo(t)
	ctx := t.Context()
	var notified []string
	r = r.WithOutboxNotify(func(_ context.Context, id string) { notified = append(notified, id) })
	req := storagetest.Result(1, 1, day)
	m := file(t, r, req)
	if _, err := r.File(ctx, req); err != nil { // a retried issue task
		t.Fatalf("File again: %v", err)
	}
	at := day.Add(48 * time.Hour)
	for _, e := range []storage.StatusEvent{
		{At: at, Status: storage.StatusSuspended, DecisionRef: "12/QĐ-UBND"},
		{At: at.Add(time.Hour), Status: storage.StatusActive, DecisionRef: "13/QĐ-UBND"},
		{At: at.Add(2 * time.Hour), Status: storage.StatusRevoked, DecisionRef: "14/QĐ-UBND"},
	} {
		if err := r.AppendStatus(ctx, m.ResultCode, e); err != nil {
			t.Fatalf("AppendStatus %s: %v", e.Status, err)
		}
	}
	err := r.AppendStatus(ctx, m.ResultCode, storage.StatusEvent{At: at.Add(2 * time.Hour), Status: storage.StatusRevoked, DecisionRef: "14/QĐ-UBND"})
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("repeated revocation: %v, want ErrExists", err)
	}
	want := []string{storage.KindIssued, storage.KindSuspended, storage.KindReinstated, storage.KindRevoked}
	if got := outboxKinds(t, r, m.ID); !slices.Equal(got, want) {
		t.Errorf("outbox kinds = %v, want %v", got, want)
	}
	if len(notified) < len(want) || notified[0] != m.ID {
		t.Errorf("notified %v, want at least %d notifications of %s", notified, len(want), m.ID)
	}

	// Supersession: one event on each result.
	oldM := file(t, r, storagetest.Result(2, 1, day))
	newM := file(t, r, storagetest.Result(3, 1, day))
	if err := r.Supersede(ctx, oldM.ResultCode, newM.ResultCode, "test"); err != nil {
		t.Fatal(err)
	}
	if err := r.Supersede(ctx, oldM.ResultCode, newM.ResultCode, "test"); err != nil {
		t.Fatalf("Supersede retried: %v", err)
	}
	if got := outboxKinds(t, r, oldM.ID); !slices.Equal(got, []string{storage.KindIssued, storage.KindSuperseded}) {
		t.Errorf("old result outbox = %v", got)
	}
	if got := outboxKinds(t, r, newM.ID); !slices.Equal(got, []string{storage.KindIssued, storage.KindSupersedes}) {
		t.Errorf("new result outbox = %v", got)
	}
	entries, err := r.Outbox(ctx, oldM.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[1]; e.SupersededBy != newM.ResultCode || e.Status != storage.StatusSuperseded || e.ResultCode != oldM.ResultCode {
		t.Errorf("superseded event = %+v", e.OutboxEvent)
	}
	// No outbox key names the holder.
	for _, k := range keys(t, b, storage.OutboxPrefix()) {
		if strings.Contains(k, req.HolderID) || storage.CheckKey(k) != nil {
			t.Errorf("outbox key %s", k)
		}
	}
}

// TestOutboxDeliveryRecords: tries are numbered create-once, a second
// delivery record is not an error and not a second record, and the sync
// state and the scan count what the records say.
func TestOutboxDeliveryRecords(t *testing.T) {
	r, b := clockRepo(t)
	ctx := t.Context()
	m := file(t, r, storagetest.Result(1, 1, day))
	if err := r.AppendStatus(ctx, m.ResultCode, storage.StatusEvent{At: day.Add(24 * time.Hour), Status: storage.StatusRevoked, DecisionRef: "1/QĐ"}); err != nil {
		t.Fatal(err)
	}
	if s, err := r.SyncStateOfResult(ctx, m); err != nil || s.State != storage.SyncPending || s.Events != 2 || s.Pending != 2 || s.LastAttemptAt != nil {
		t.Fatalf("fresh sync state = %+v, %v", s, err)
	}
	t1, t2 := day.Add(time.Hour), day.Add(2*time.Hour)
	n, err := r.RecordKhoAttempt(ctx, m.ID, 0, 0, storage.KhoAttempt{At: t1, HTTPStatus: 503})
	if err != nil || n != 1 {
		t.Fatalf("first try = %d, %v", n, err)
	}
	// A concurrent run that saw no tries takes the next number.
	if n, err = r.RecordKhoAttempt(ctx, m.ID, 0, 0, storage.KhoAttempt{At: t2, Error: "timeout"}); err != nil || n != 2 {
		t.Fatalf("second try = %d, %v", n, err)
	}
	for range 2 {
		if err := r.MarkKhoDelivered(ctx, m.ID, 0, storage.KhoDelivery{At: t2, HTTPStatus: 200, PortalRef: "KHO-1", Tries: 2}); err != nil {
			t.Fatalf("MarkKhoDelivered: %v", err)
		}
	}
	one := 0
	if err := r.MarkKhoDead(ctx, m.ID, 1, storage.KhoDead{At: t2, Reason: storage.DeadBlocked, BlockedBy: &one}); err != nil {
		t.Fatal(err)
	}
	entries, err := r.Outbox(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[0]; e.Tries != 2 || !e.FirstTry.At.Equal(t1) || !e.LastTry.At.Equal(t2) || e.State() != storage.SyncDelivered {
		t.Errorf("entry 0 = tries %d first %v last %v state %s", e.Tries, e.FirstTry, e.LastTry, e.State())
	}
	s := storage.SyncStateOf(entries)
	if s.State != storage.SyncDead || s.Delivered != 1 || s.Dead != 1 || s.PortalRef != "KHO-1" || s.SyncedAt == nil || !s.LastAttemptAt.Equal(t2) {
		t.Errorf("sync state = %+v", s)
	}
	if got := len(keys(t, b, storage.OutboxResultPrefix(m.ID))); got != 6 {
		t.Errorf("%d outbox objects, want 6 (2 events, 2 tries, 1 delivered, 1 dead)", got)
	}
	var counts []storage.OutboxCounts
	if err := r.ScanOutbox(ctx, func(c storage.OutboxCounts) error { counts = append(counts, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Events != 2 || counts[0].Delivered != 1 || counts[0].Dead != 1 || counts[0].Pending != 0 {
		t.Errorf("scan = %+v", counts)
	}
}

// TestRepairOutbox: a status event without its outbox event (filed before
// the outbox, or a crash between the two writes) gets one.
func TestRepairOutbox(t *testing.T) {
	r, _ := clockRepo(t)
	ctx := t.Context()
	m := file(t, r, storagetest.Result(1, 1, day))
	// A status event written the way an older sohoa wrote it: no outbox.
	if err := r.PutJSON(ctx, storage.EventKey(m.ID, 1, storage.StatusRevoked),
		storage.StatusEvent{At: day.Add(time.Hour), Status: storage.StatusRevoked, DecisionRef: "9/QĐ"}); err != nil {
		t.Fatal(err)
	}
	n, err := r.RepairOutbox(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RepairOutbox = %d, %v; want 1", n, err)
	}
	if got := outboxKinds(t, r, m.ID); !slices.Equal(got, []string{storage.KindIssued, storage.KindRevoked}) {
		t.Errorf("outbox after repair = %v", got)
	}
	if n, err := r.RepairOutbox(ctx); err != nil || n != 0 {
		t.Errorf("second RepairOutbox = %d, %v; want 0", n, err)
	}
}
