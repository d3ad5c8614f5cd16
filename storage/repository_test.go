package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

var day = time.Date(2025, 7, 18, 9, 0, 0, 0, storage.Vietnam())

func newRepo(t *testing.T) (*storage.Repository, *mem.Bucket) {
	t.Helper()
	b := mem.New()
	r, err := storage.New(b, storage.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

func file(t *testing.T, r *storage.Repository, req storage.NewResult) storage.Manifest {
	t.Helper()
	m, err := r.File(t.Context(), req)
	if err != nil {
		t.Fatalf("File(%s): %v", req.Manifest.ResultCode, err)
	}
	return m
}

func keys(t *testing.T, b storage.Bucket, prefix string) []string {
	t.Helper()
	var out []string
	if err := b.List(t.Context(), prefix, func(o storage.ObjectInfo) error {
		out = append(out, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFileAndLookups(t *testing.T) {
	r, b := newRepo(t)
	ctx := t.Context()
	req := storagetest.Result(42, 1, day)
	req.Manifest.InputKey = storage.InputKeyOf([]byte("the scan"))
	m := file(t, r, req)

	if m.ID == "" || m.SchemaVersion != storage.SchemaVersion || m.File.Size != int64(len(req.PDF)) || m.Holder.KID != "k1" {
		t.Fatalf("filed manifest = %+v, want id, schema, size %d, kid k1", m, len(req.PDF))
	}
	for name, get := range map[string]func() (storage.Manifest, error){
		"Get":         func() (storage.Manifest, error) { return r.Get(ctx, m.ResultCode) },
		"Get KQ(1)":   func() (storage.Manifest, error) { return r.Get(ctx, strings.TrimSuffix(m.ResultCode, "KQ1")+"KQ(1)") },
		"BySHA256":    func() (storage.Manifest, error) { return r.BySHA256(ctx, m.File.SHA256) },
		"BySHA256 uc": func() (storage.Manifest, error) { return r.BySHA256(ctx, "sha256:"+strings.ToUpper(m.File.SHA256)) },
	} {
		got, err := get()
		if err != nil || got.ID != m.ID {
			t.Errorf("%s = %s, %v; want %s", name, got.ID, err, m.ID)
		}
	}
	byIn, err := r.ByInputKey(ctx, req.Manifest.InputKey)
	if err != nil || len(byIn) != 1 || byIn[0].ID != m.ID {
		t.Errorf("ByInputKey = %d manifests, %v; want [%s]", len(byIn), err, m.ID)
	}
	rc, _, err := r.OpenPDF(ctx, m.ResultCode)
	if err != nil {
		t.Fatalf("OpenPDF: %v", err)
	}
	pdf, _ := io.ReadAll(rc)
	rc.Close()
	if string(pdf) != string(req.PDF) {
		t.Errorf("OpenPDF = %q, want %q", pdf, req.PDF)
	}
	idType, id, err := r.HolderID(ctx, m)
	if err != nil || idType != "CCCD" || id != req.HolderID {
		t.Errorf("HolderID = %q, %q, %v; want CCCD and the filed ID", idType, id, err)
	}
	s, err := r.Sealed(ctx, m)
	if err != nil || s.Name != req.HolderName || s.Extracted["ho_ten"].Value != req.HolderName {
		t.Errorf("Sealed name/extracted do not round-trip (err %v)", err)
	}
	evs, err := r.Events(ctx, m.ResultCode)
	if err != nil || len(evs) != 1 || evs[0].Status != storage.StatusActive || evs[0].ReasonCode != storage.ReasonCodeIssued {
		t.Errorf("Events = %+v, %v; want one issued active event", evs, err)
	}
	if got := keys(t, b, storage.IndexPrefix("k1", r.IndexHMAC("CCCD", req.HolderID))); len(got) != 1 {
		t.Errorf("index entries = %q, want 1", got)
	}
	for _, code := range []string{"000.00.31.H29-250718-9999-KQ1", "000.00.31.H29-250718-0042-KQ2"} {
		if _, err := r.Get(ctx, code); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%s) error = %v, want ErrNotFound", code, err)
		}
	}
	if _, err := r.Get(ctx, "not-a-code"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Get(malformed) error = %v, want ErrInvalid", err)
	}
}

func TestFileRejectsBadInput(t *testing.T) {
	r, _ := newRepo(t)
	mod := func(f func(*storage.NewResult)) storage.NewResult {
		req := storagetest.Result(1, 1, day)
		f(&req)
		return req
	}
	tests := map[string]storage.NewResult{
		"not a pdf":           mod(func(q *storage.NewResult) { q.PDF = []byte("GIF89a") }),
		"11-digit CCCD":       mod(func(q *storage.NewResult) { q.HolderID = "00119901234" }),
		"code of other file":  mod(func(q *storage.NewResult) { q.Manifest.DossierCode = "000.00.31.H29-250718-0043" }),
		"seq mismatch":        mod(func(q *storage.NewResult) { q.Manifest.ResultSeq = 2 }),
		"bad agency":          mod(func(q *storage.NewResult) { q.Manifest.ConvertingAgency.Code = "../etc" }),
		"low dpi":             mod(func(q *storage.NewResult) { q.Manifest.Digitization.DPI = 150 }),
		"unknown origin":      mod(func(q *storage.NewResult) { q.Manifest.Origin = "copied" }),
		"until before issued": mod(func(q *storage.NewResult) { d := storage.DateOf(day.AddDate(0, 0, -1)); q.Manifest.ValidUntil = &d }),
	}
	for name, req := range tests {
		_, err := r.File(t.Context(), req)
		if !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: File error = %v, want ErrInvalid", name, err)
		}
		if err != nil && strings.Contains(err.Error(), req.HolderID) {
			t.Errorf("%s: error %q leaks the holder ID", name, err)
		}
	}
}

// TestFileConcurrentOnce: many workers file the same result (each with its
// own re-signed PDF bytes); exactly one of every object exists afterwards and
// everyone gets the same manifest back.
func TestFileConcurrentOnce(t *testing.T) {
	r, b := newRepo(t)
	const n = 50
	var wg sync.WaitGroup
	ids := make([]string, n)
	shas := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			req := storagetest.Result(7, 3, day)
			req.PDF = append(req.PDF, fmt.Sprintf("%% signed by worker %d\n", i)...)
			m, err := r.File(context.WithoutCancel(t.Context()), req)
			ids[i], shas[i], errs[i] = m.ID, m.File.SHA256, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] || shas[i] != shas[0] {
			t.Fatalf("worker %d: id %s sha %s err %v; want %s %s nil", i, ids[i], shas[i], errs[i], ids[0], shas[0])
		}
	}
	all := keys(t, b, "")
	counts := map[string]int{}
	for _, k := range all {
		counts[strings.SplitN(k, "/", 2)[0]]++
		if v := b.Versions(k); v != 1 {
			t.Errorf("%s has %d versions, want 1", k, v)
		}
	}
	// results: pdf + manifest; one code, sha256, index entry, issued event.
	want := map[string]int{"results": 2, "codes": 1, "sha256": 1, "index": 1, "events": 1}
	for p, c := range want {
		if counts[p] != c {
			t.Errorf("%s/ holds %d objects, want %d (all keys %q)", p, counts[p], c, all)
		}
	}
	rc, m, err := r.OpenPDF(t.Context(), storagetest.Result(7, 3, day).Manifest.ResultCode)
	if err != nil {
		t.Fatalf("OpenPDF: %v", err)
	}
	rc.Close()
	if m.File.SHA256 != shas[0] {
		t.Errorf("stored manifest sha %s, want the stored PDF's %s", m.File.SHA256, shas[0])
	}
}

// TestFileCompletesInterruptedWrite: a crash after the manifest but before
// the lookups is repaired by the retry.
func TestFileCompletesInterruptedWrite(t *testing.T) {
	r, b := newRepo(t)
	req := storagetest.Result(5, 1, day)
	m := file(t, r, req)
	for _, k := range append(keys(t, b, "index/"), keys(t, b, "sha256/")...) {
		if err := b.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	again := file(t, r, req)
	if again.ID != m.ID || !again.CreatedAt.Equal(m.CreatedAt) {
		t.Errorf("retry returned %s (created %v), want the stored %s (%v)", again.ID, again.CreatedAt, m.ID, m.CreatedAt)
	}
	if got := len(keys(t, b, "index/")) + len(keys(t, b, "sha256/")); got != 2 {
		t.Errorf("after retry index+sha256 objects = %d, want 2", got)
	}
}

// TestFiledCompletesLookups: Filed finds a filed result by its code and
// writes back every lookup a crash after the manifest left out, without
// filing anything new; an unknown code is ErrNotFound.
func TestFiledCompletesLookups(t *testing.T) {
	r, b := newRepo(t)
	req := storagetest.Result(6, 1, day)
	m := file(t, r, req)
	prefixes := []string{"index/", "sha256/"} // inputs/: TestReconcileRepairsInterruptedFiling
	want := map[string][]string{}
	for _, p := range prefixes {
		if want[p] = keys(t, b, p); len(want[p]) == 0 {
			t.Fatalf("no %s lookup after File", p)
		}
		for _, k := range want[p] {
			if err := b.Delete(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := r.Filed(t.Context(), m.ResultCode, "test")
	if err != nil || got.ID != m.ID {
		t.Fatalf("Filed = %s, %v; want %s", got.ID, err, m.ID)
	}
	for _, p := range prefixes {
		if k := keys(t, b, p); strings.Join(k, ",") != strings.Join(want[p], ",") {
			t.Errorf("%s after Filed = %v, want %v", p, k, want[p])
		}
	}
	if n := len(keys(t, b, "codes/")); n != 1 {
		t.Errorf("codes/ objects = %d, want the one result's", n)
	}
	if _, err := r.Filed(t.Context(), "000.00.31.H29-260302-9999-KQ1", "test"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Filed of a code never filed = %v, want ErrNotFound", err)
	}
}

func TestFileSameCodeOtherHolder(t *testing.T) {
	r, _ := newRepo(t)
	first := file(t, r, storagetest.Result(9, 1, day))
	m, err := r.File(t.Context(), storagetest.Result(9, 2, day))
	if !errors.Is(err, storage.ErrExists) || m.ID != first.ID {
		t.Errorf("filing a code for another holder = %s, %v; want the stored %s and ErrExists", m.ID, err, first.ID)
	}
	hits, err := r.Search(t.Context(), storage.Query{IDType: "CCCD", ID: storagetest.HolderID(2), IncludeHistory: true})
	if err != nil || len(hits) != 0 {
		t.Errorf("the other holder finds %d results (%v), want 0", len(hits), err)
	}
}

func TestOpenPDFCorrupt(t *testing.T) {
	r, b := newRepo(t)
	m := file(t, r, storagetest.Result(1, 1, day))
	if err := b.Tamper(m.File.ObjectKey, func(p []byte) []byte { p[3] = 'X'; return p }); err != nil {
		t.Fatal(err)
	}
	rc, _, err := r.OpenPDF(t.Context(), m.ResultCode)
	if !errors.Is(err, storage.ErrCorrupt) || rc != nil {
		t.Errorf("OpenPDF of corrupted file = %v, %v; want nil, ErrCorrupt", rc, err)
	}
}

func TestStatusChanges(t *testing.T) {
	clock := day.Add(24 * time.Hour)
	b := mem.New()
	r, err := storage.New(b, storage.Options{Keys: storagetest.Keys(), Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	oldM := file(t, r, storagetest.Result(1, 1, day))
	newM := file(t, r, storagetest.Result(2, 1, day))
	step := func() time.Time { clock = clock.Add(time.Hour); return clock }

	if err := r.AppendStatus(ctx, oldM.ResultCode, storage.StatusEvent{Status: storage.StatusSuspended}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("suspend without decision error = %v, want ErrInvalid", err)
	}
	tSusp := step()
	susp := storage.StatusEvent{Status: storage.StatusSuspended, DecisionRef: "7/QĐ-UBND", Actor: "officer"}
	if err := r.AppendStatus(ctx, oldM.ResultCode, susp); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	step()
	if err := r.AppendStatus(ctx, oldM.ResultCode, susp); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("repeated suspend error = %v, want ErrExists (already recorded)", err)
	}
	tBack := step()
	if err := r.AppendStatus(ctx, oldM.ResultCode, storage.StatusEvent{Status: storage.StatusActive, DecisionRef: "9/QĐ-UBND"}); err != nil {
		t.Fatalf("reinstate: %v", err)
	}
	tSup := step()
	if err := r.Supersede(ctx, oldM.ResultCode, newM.ResultCode, "officer"); err != nil {
		t.Fatalf("Supersede: %v", err)
	}
	if err := r.Supersede(ctx, oldM.ResultCode, newM.ResultCode, "officer"); err != nil {
		t.Errorf("Supersede retry error = %v, want nil", err)
	}
	if err := r.AppendStatus(ctx, oldM.ResultCode, storage.StatusEvent{Status: storage.StatusActive, DecisionRef: "x"}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("reviving a superseded result error = %v, want ErrConflict", err)
	}

	evs, err := r.Events(ctx, oldM.ResultCode)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Status)
	}
	if want := "active suspended active superseded"; strings.Join(got, " ") != want {
		t.Errorf("old result events = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		code   string
		at     time.Time
		valid  bool
		reason string
	}{
		{oldM.ResultCode, tSusp.Add(-time.Second), true, ""},
		{oldM.ResultCode, tSusp.Add(time.Minute), false, storage.ReasonSuspended},
		{oldM.ResultCode, tBack.Add(time.Minute), true, ""},
		{oldM.ResultCode, tSup.Add(time.Minute), false, storage.ReasonSuperseded},
		{newM.ResultCode, tSup.Add(time.Minute), true, ""},
	} {
		v, err := r.Validity(ctx, tc.code, tc.at)
		if err != nil || v.Valid != tc.valid || v.Reason != tc.reason {
			t.Errorf("Validity(%s, %v) = %+v, %v; want valid %v reason %q", tc.code, tc.at, v, err, tc.valid, tc.reason)
		}
	}
	v, _ := r.Validity(ctx, oldM.ResultCode, tSup.Add(time.Minute))
	if v.SupersededBy != newM.ResultCode {
		t.Errorf("SupersededBy = %q, want %q", v.SupersededBy, newM.ResultCode)
	}
	newEvs, _ := r.Events(ctx, newM.ResultCode)
	if last := newEvs[len(newEvs)-1]; last.Supersedes != oldM.ResultCode || last.Status != storage.StatusActive {
		t.Errorf("new result's last event = %+v, want active, supersedes %s", last, oldM.ResultCode)
	}
	if err := r.AppendStatus(ctx, newM.ResultCode, storage.StatusEvent{Status: storage.StatusRevoked, DecisionRef: "12/QĐ-UBND"}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if v, _ := r.Validity(ctx, newM.ResultCode, clock.Add(time.Second)); v.Valid || v.Reason != storage.ReasonRevoked {
		t.Errorf("after revoke Validity = %+v, want REVOKED", v)
	}
}

// TestStatusChangeRules: a status change must take effect within the
// result's life (not before it was issued or filed, not more than
// MaxStatusLead ahead) and follow the transition rules in the order of
// taking effect; a change already recorded is refused, not repeated.
func TestStatusChangeRules(t *testing.T) {
	filed := day.Add(30 * 24 * time.Hour) // a month after the paper was issued
	clock := filed
	r, err := storage.New(mem.New(), storage.Options{Keys: storagetest.Keys(), Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	n := 0
	fresh := func() string {
		n++
		return file(t, r, storagetest.Result(n, 1, day)).ResultCode
	}
	revoke := func(at time.Time, ref string) storage.StatusEvent {
		return storage.StatusEvent{At: at, Status: storage.StatusRevoked, DecisionRef: ref}
	}
	clock = filed.Add(time.Hour)
	tests := []struct {
		name  string
		setup []storage.StatusEvent
		e     storage.StatusEvent
		want  error // nil: accepted
	}{
		{"revoke now", nil, revoke(time.Time{}, "1/QĐ"), nil},
		{"revoke from next month", nil, revoke(clock.AddDate(0, 1, 0), "1/QĐ"), nil},
		{"revoke before the paper was issued", nil, revoke(day.AddDate(0, 0, -1), "1/QĐ"), storage.ErrInvalid},
		{"revoke before the result was filed", nil, revoke(filed.Add(-time.Hour), "1/QĐ"), storage.ErrInvalid},
		{"revoke on 9999-12-31", nil, revoke(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "1/QĐ"), storage.ErrInvalid},
		{"revoke more than a year ahead", nil, revoke(clock.Add(storage.MaxStatusLead+time.Hour), "1/QĐ"), storage.ErrInvalid},
		{"revoke a revoked result", []storage.StatusEvent{revoke(time.Time{}, "1/QĐ")}, revoke(clock.Add(time.Minute), "2/QĐ"), storage.ErrConflict},
		{"the same revocation again", []storage.StatusEvent{revoke(time.Time{}, "1/QĐ")}, revoke(clock.Add(time.Minute), "1/QĐ"), storage.ErrExists},
		{"revoke before a scheduled revocation", []storage.StatusEvent{revoke(clock.AddDate(0, 1, 0), "1/QĐ")}, revoke(clock.Add(time.Minute), "2/QĐ"), storage.ErrConflict},
		{"suspend before a scheduled revocation", []storage.StatusEvent{revoke(clock.AddDate(0, 1, 0), "1/QĐ")},
			storage.StatusEvent{At: clock.Add(time.Minute), Status: storage.StatusSuspended, DecisionRef: "2/QĐ"}, nil},
		{"reinstate a revoked result", []storage.StatusEvent{revoke(time.Time{}, "1/QĐ")},
			storage.StatusEvent{At: clock.Add(time.Minute), Status: storage.StatusActive, DecisionRef: "2/QĐ"}, storage.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := fresh()
			for _, e := range tc.setup {
				if err := r.AppendStatus(ctx, code, e); err != nil {
					t.Fatalf("setup %+v: %v", e, err)
				}
			}
			err := r.AppendStatus(ctx, code, tc.e)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("AppendStatus = %v, want %v", err, tc.want)
			}
			evs, _ := r.Events(ctx, code)
			if want := 1 + len(tc.setup) + map[bool]int{true: 1}[tc.want == nil]; len(evs) != want {
				t.Errorf("%d events, want %d", len(evs), want)
			}
			if tc.want == nil && tc.e.Status == storage.StatusRevoked {
				at := tc.e.At
				if at.IsZero() {
					at = clock
				}
				if v, _ := r.Validity(ctx, code, at.Add(time.Second)); v.Valid || v.Reason != storage.ReasonRevoked {
					t.Errorf("validity after the revocation = %+v, want REVOKED", v)
				}
			}
		})
	}
}

func TestConcurrentAppendsKeepAllEvents(t *testing.T) {
	r, _ := newRepo(t)
	m := file(t, r, storagetest.Result(1, 1, day))
	var wg sync.WaitGroup
	const n = 10
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Suspensions under distinct decisions are all allowed from active/suspended.
			errs[i] = r.AppendStatus(t.Context(), m.ResultCode, storage.StatusEvent{Status: storage.StatusSuspended, DecisionRef: fmt.Sprintf("%d/QĐ", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	evs, err := r.Events(t.Context(), m.ResultCode)
	if err != nil || len(evs) != n+1 {
		t.Errorf("events = %d, %v; want %d", len(evs), err, n+1)
	}
}

func TestSearch(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	keysV1 := storagetest.Keys()
	b := mem.New()
	r, err := storage.New(b, storage.Options{Keys: keysV1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	valid := file(t, r, storagetest.Result(1, 1, day))
	expiredReq := storagetest.Result(2, 1, day.AddDate(-10, 0, 0)) // valid 5 years from 2015
	expired := file(t, r, expiredReq)
	otherType := storagetest.Result(3, 1, day)
	otherType.Manifest.DocType, otherType.Manifest.DocTypeName = "GCN", "Giấy chứng nhận"
	file(t, r, otherType)
	revoked := file(t, r, storagetest.Result(4, 1, day))
	if err := r.AppendStatus(ctx, revoked.ResultCode, storage.StatusEvent{Status: storage.StatusRevoked, DecisionRef: "1/QĐ"}); err != nil {
		t.Fatal(err)
	}
	file(t, r, storagetest.Result(5, 2, day)) // another holder

	codes := func(hits []storage.Hit) []string {
		var out []string
		for _, h := range hits {
			out = append(out, h.ResultCode)
		}
		sort.Strings(out)
		return out
	}
	holder := storagetest.HolderID(1)
	tests := []struct {
		name string
		q    storage.Query
		want []string
	}{
		{"valid only", storage.Query{IDType: "CCCD", ID: holder}, []string{valid.ResultCode, otherType.Manifest.ResultCode}},
		{"doc type", storage.Query{IDType: "cccd", ID: holder, DocType: "GKS"}, []string{valid.ResultCode}},
		{"history", storage.Query{IDType: "CCCD", ID: holder, IncludeHistory: true}, []string{valid.ResultCode, expired.ResultCode, otherType.Manifest.ResultCode, revoked.ResultCode}},
		{"point in time before revocation", storage.Query{IDType: "CCCD", ID: holder, DocType: "GKS", ValidAt: day.AddDate(-8, 0, 0)}, []string{expired.ResultCode}},
		{"unknown holder", storage.Query{IDType: "CCCD", ID: "123456789012"}, nil},
	}
	for _, tc := range tests {
		hits, err := r.Search(ctx, tc.q)
		got := codes(hits)
		sort.Strings(tc.want)
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: Search = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	hits, _ := r.Search(ctx, storage.Query{IDType: "CCCD", ID: holder, IncludeHistory: true})
	for _, h := range hits {
		if h.ResultCode == revoked.ResultCode && (h.Validity.Valid || h.Validity.Reason != storage.ReasonRevoked) {
			t.Errorf("revoked hit validity = %+v, want REVOKED", h.Validity)
		}
		if h.ResultCode == expired.ResultCode && h.Validity.Reason != storage.ReasonExpired {
			t.Errorf("expired hit validity = %+v, want EXPIRED", h.Validity)
		}
	}
	if _, err := r.Search(ctx, storage.Query{IDType: "CCCD", ID: "12345"}); !errors.Is(err, storage.ErrInvalid) || strings.Contains(err.Error(), "12345") {
		t.Errorf("Search(malformed ID) error = %v, want ErrInvalid without the ID", err)
	}

	// Rotate the index key: old entries stay findable, a rebuild adds
	// entries under the new kid, and the search still counts each result once.
	keysV2 := keysV1
	keysV2.IndexKeys = map[string][]byte{"k2": []byte(strings.Repeat("Z", 32)), "k1": keysV1.IndexKeys["k1"]}
	keysV2.IndexKID = "k2"
	r2, err := storage.New(b, storage.Options{Keys: keysV2, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r2.Search(ctx, storage.Query{IDType: "CCCD", ID: holder, IncludeHistory: true})
	if n, err := r2.RebuildIndex(ctx); err != nil || n != 5 {
		t.Fatalf("RebuildIndex after rotation = %d, %v; want 5", n, err)
	}
	after, _ := r2.Search(ctx, storage.Query{IDType: "CCCD", ID: holder, IncludeHistory: true})
	if len(before) != 4 || len(after) != 4 || len(keys(t, b, "index/k2/")) != 5 {
		t.Errorf("after rotation: %d hits before rebuild, %d after, %d k2 entries; want 4, 4, 5", len(before), len(after), len(keys(t, b, "index/k2/")))
	}
}

func TestRebuildIndexReproducesEntries(t *testing.T) {
	r, b := newRepo(t)
	for i := range 6 {
		file(t, r, storagetest.Result(i+1, i%3, day))
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, k := range keys(t, b, "index/") {
			body, _, err := b.Get(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			out[k] = string(body)
		}
		return out
	}
	want := snapshot()
	for k := range want {
		if err := b.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	n, err := r.RebuildIndex(t.Context())
	if err != nil || n != 6 {
		t.Fatalf("RebuildIndex = %d, %v; want 6, nil", n, err)
	}
	got := snapshot()
	if len(got) != len(want) {
		t.Fatalf("rebuilt %d entries, want %d", len(got), len(want))
	}
	for k, body := range want {
		if got[k] != body {
			t.Errorf("rebuilt %s = %s, want %s", k, got[k], body)
		}
	}
}

func TestAllocateDossierCode(t *testing.T) {
	r, _ := newRepo(t)
	const n = 30
	var wg sync.WaitGroup
	codes := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			codes[i], errs[i] = r.AllocateDossierCode(t.Context(), storagetest.Agency, day, storage.DossierClaim{BatchID: fmt.Sprint("b", i)})
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, c := range codes {
		if errs[i] != nil || seen[c] || !storage.ValidDossierCode(c) {
			t.Errorf("allocation %d = %q, %v; want a fresh valid code", i, c, errs[i])
		}
		seen[c] = true
	}
	if !seen[storagetest.Agency+"-250718-0001"] || !seen[fmt.Sprintf("%s-250718-%04d", storagetest.Agency, n)] {
		t.Errorf("codes %v do not run 0001..%04d", codes, n)
	}
	if _, err := r.AllocateDossierCode(t.Context(), "bad", day, storage.DossierClaim{}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("bad agency error = %v, want ErrInvalid", err)
	}
}

// countingBucket counts the requests a repository makes.
type countingBucket struct {
	storage.Bucket
	mu                 sync.Mutex
	lists, stats, puts int
}

func (b *countingBucket) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	b.mu.Lock()
	b.lists++
	b.mu.Unlock()
	return b.Bucket.List(ctx, prefix, fn)
}

func (b *countingBucket) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	b.mu.Lock()
	b.stats++
	b.mu.Unlock()
	return b.Bucket.Stat(ctx, key)
}

func (b *countingBucket) Upload(ctx context.Context, key string, body io.Reader, size int64, sum string) error {
	b.mu.Lock()
	b.puts++
	b.mu.Unlock()
	return b.Bucket.Upload(ctx, key, body, size, sum)
}

func (b *countingBucket) reset() (lists, stats, puts int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lists, stats, puts = b.lists, b.stats, b.puts
	b.lists, b.stats, b.puts = 0, 0, 0
	return lists, stats, puts
}

// TestAllocateDossierCodeCostsNoListing: allocating a code must not cost a
// listing of the day (2,000 claims made every later upload slow), and codes
// named ahead of the counter are skipped, never handed out again.
func TestAllocateDossierCodeCostsNoListing(t *testing.T) {
	b := &countingBucket{Bucket: mem.New()}
	r, err := storage.New(b, storage.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const used = 2000
	for i := range used {
		if _, err := r.AllocateDossierCode(ctx, storagetest.Agency, day, storage.DossierClaim{BatchID: "burst"}); err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
	}
	ahead := fmt.Sprintf("%s-250718-%04d", storagetest.Agency, used+2)
	if err := r.ReserveDossierCode(ctx, ahead, storage.DossierClaim{BatchID: "counter-7"}); err != nil {
		t.Fatalf("reserve %s: %v", ahead, err)
	}
	b.reset()
	var got []string
	for range 3 {
		c, err := r.AllocateDossierCode(ctx, storagetest.Agency, day, storage.DossierClaim{BatchID: "later"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	lists, stats, puts := b.reset()
	want := []string{
		fmt.Sprintf("%s-250718-%04d", storagetest.Agency, used+1),
		fmt.Sprintf("%s-250718-%04d", storagetest.Agency, used+3),
		fmt.Sprintf("%s-250718-%04d", storagetest.Agency, used+4),
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("allocated %v, want %v (the reserved %s skipped)", got, want, ahead)
	}
	if lists != 0 || stats > 3*16 || puts > 4 {
		t.Errorf("3 allocations after %d cost %d listings, %d probes, %d writes; want 0 listings, at most 48 probes and 4 writes",
			used, lists, stats, puts)
	}
}

func TestReserveDossierCode(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	code := storagetest.Agency + "-250718-0042"
	if err := r.ReserveDossierCode(ctx, code, storage.DossierClaim{BatchID: "b1"}); err != nil {
		t.Fatalf("reserve: %v", err)
	}
	if err := r.ReserveDossierCode(ctx, code, storage.DossierClaim{BatchID: "b1"}); err != nil {
		t.Errorf("second file of the same batch: %v, want nil", err)
	}
	if err := r.ReserveDossierCode(ctx, code, storage.DossierClaim{BatchID: "b2"}); !errors.Is(err, storage.ErrTaken) {
		t.Errorf("another batch: %v, want ErrTaken", err)
	}
	allocated, err := r.AllocateDossierCode(ctx, storagetest.Agency, day, storage.DossierClaim{BatchID: "b3"})
	if err != nil || allocated != storagetest.Agency+"-250718-0001" {
		t.Fatalf("allocate = %s, %v", allocated, err)
	}
	if err := r.ReserveDossierCode(ctx, allocated, storage.DossierClaim{BatchID: "b3"}); !errors.Is(err, storage.ErrTaken) {
		t.Errorf("naming a code allocated here: %v, want ErrTaken", err)
	}
	for _, bad := range []string{"000.00.31.H29-250718-0000", "000.00.31.H29-250230-0001", "x", ""} {
		if err := r.ReserveDossierCode(ctx, bad, storage.DossierClaim{BatchID: "b1"}); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("reserve %q: %v, want ErrInvalid", bad, err)
		}
	}
	if c, err := r.DossierClaim(ctx, code); err != nil || c.BatchID != "b1" || !c.Supplied {
		t.Errorf("claim = %+v, %v; want batch b1, supplied", c, err)
	}
}

func TestIntake(t *testing.T) {
	r, b := newRepo(t)
	ctx := t.Context()
	scan := []byte("\xff\xd8\xff fake jpeg")
	k1, err := r.PutIntake(ctx, scan, storage.IntakeMeta{Name: "a.jpg", BatchID: "b1"})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := r.PutIntake(ctx, scan, storage.IntakeMeta{Name: "again.jpg", BatchID: "b2", Source: storage.SourceBackfill})
	if err != nil || k2 != k1 {
		t.Fatalf("re-upload = %q, %v; want %q, nil", k2, err, k1)
	}
	data, meta, err := r.Intake(ctx, k1)
	if err != nil || string(data) != string(scan) || meta.Name != "a.jpg" || meta.Source != storage.SourceCounter || meta.Size != int64(len(scan)) {
		t.Errorf("Intake = %q, %+v, %v; want the first upload's meta", data, meta, err)
	}
	if v := b.Versions(storage.IntakeKey(k1)); v != 1 {
		t.Errorf("intake versions = %d, want 1", v)
	}
	if _, err := r.PutIntake(ctx, scan, storage.IntakeMeta{Source: "fax"}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("unknown source error = %v, want ErrInvalid", err)
	}
	if _, _, err := r.Intake(ctx, storage.InputKeyOf([]byte("never uploaded"))); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing intake error = %v, want ErrNotFound", err)
	}
	if _, _, err := r.Intake(ctx, strings.Repeat("0", 64)); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("hex intake key error = %v, want ErrInvalid", err)
	}
}

func TestSmallObjectHelpers(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	key := storage.RecordKey(storage.InputKeyOf([]byte("small objects")))
	if ok, err := r.Exists(ctx, key); ok || err != nil {
		t.Fatalf("Exists before write = %v, %v; want false, nil", ok, err)
	}
	type rec struct{ A int }
	if err := r.PutJSON(ctx, key, rec{1}); err != nil {
		t.Fatal(err)
	}
	if err := r.PutJSON(ctx, key, rec{2}); !errors.Is(err, storage.ErrExists) {
		t.Errorf("second PutJSON error = %v, want ErrExists", err)
	}
	var got rec
	if err := r.GetJSON(ctx, key, &got); err != nil || got.A != 1 {
		t.Errorf("GetJSON = %+v, %v; want {1}", got, err)
	}
	if ok, err := r.Exists(ctx, key); !ok || err != nil {
		t.Errorf("Exists after write = %v, %v; want true, nil", ok, err)
	}
	if err := r.PutJSON(ctx, "records/001199012345.json", rec{1}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("PutJSON with an ID-shaped key error = %v, want ErrInvalid", err)
	}
}

// TestNoPersonalDataInKeys files results for many holders and checks every
// key in the bucket.
func TestNoPersonalDataInKeys(t *testing.T) {
	r, b := newRepo(t)
	const holders = 40
	for i := range holders * 2 {
		file(t, r, storagetest.Result(i+1, i%holders, day))
	}
	storagetest.CheckKeysPrivate(t, b, holders)
}

func TestSealedJSON(t *testing.T) {
	r, b := newRepo(t)
	ctx := context.Background()
	type rec struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	in := rec{ID: storagetest.HolderID(3), Name: storagetest.HolderName(3)}
	ka, kb := storage.RecordKey(storage.InputKeyOf([]byte("a"))), storage.RecordKey(storage.InputKeyOf([]byte("b")))
	if err := r.PutSealedJSON(ctx, ka, in); err != nil {
		t.Fatal(err)
	}
	body, _, err := b.Get(ctx, ka)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), in.ID) || strings.Contains(string(body), in.Name) {
		t.Fatalf("sealed body shows the plaintext: %s", body)
	}
	var out rec
	if err := r.GetSealedJSON(ctx, ka, &out); err != nil || out != in {
		t.Fatalf("GetSealedJSON = %+v, %v; want %+v", out, err, in)
	}
	// The same body under another key does not open: it is bound to its key.
	if err := b.PutOnce(ctx, kb, body, storage.SHA256Hex(body)); err != nil {
		t.Fatal(err)
	}
	if err := r.GetSealedJSON(ctx, kb, &out); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("moved body: %v, want ErrCorrupt", err)
	}
	if err := r.PutSealedJSON(ctx, ka, in); !errors.Is(err, storage.ErrExists) {
		t.Errorf("second write: %v, want ErrExists", err)
	}
}

func TestReserveResultCode(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	const dossier = storagetest.Agency + "-250718-0042"
	in := func(i int) string { return storage.InputKeyOf([]byte(fmt.Sprint("scan ", i))) }
	reserve := func(input, doc int, batch string, accept bool) (string, error) {
		return r.ReserveResultCode(ctx, storage.CodeRequest{Dossier: dossier, Agency: storagetest.Agency,
			Owner: storage.CodeOwner{InputKey: in(input), Doc: doc, BatchID: batch}, AcceptOthers: accept})
	}
	tests := []struct {
		name       string
		input, doc int
		batch      string
		accept     bool
		want       string // "" means ErrTaken
	}{
		{"first document", 1, 0, "b1", false, dossier + "-KQ1"},
		{"retry of it", 1, 0, "b1", false, dossier + "-KQ1"},
		{"second document of the file", 1, 1, "b1", false, dossier + "-KQ2"},
		{"another file of the upload", 2, 0, "b1", false, dossier + "-KQ3"},
		{"a file of another upload", 3, 0, "b2", false, ""},
		{"the same, confirmed by a person", 3, 0, "b2", true, dossier + "-KQ4"},
		{"an upload without a batch", 4, 0, "", false, ""},
	}
	for _, tc := range tests {
		got, err := reserve(tc.input, tc.doc, tc.batch, tc.accept)
		if tc.want == "" {
			if !errors.Is(err, storage.ErrTaken) || !errors.Is(err, storage.ErrExists) {
				t.Errorf("%s: %q, %v; want ErrTaken", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// Filing follows the reservation: under its ID, and only for its owner.
	req := storagetest.Result(42, 1, day)
	req.Manifest.InputKey = in(3)
	if _, err := r.File(ctx, req); !errors.Is(err, storage.ErrTaken) {
		t.Errorf("filing KQ1 for another intake: %v, want ErrTaken", err)
	}
	req.Manifest.InputKey = in(1)
	if m, err := r.File(ctx, req); err != nil || m.ResultCode != dossier+"-KQ1" {
		t.Errorf("filing KQ1 for its owner = %+v, %v", m, err)
	}
	// Concurrent documents of one upload get distinct codes.
	const n = 10
	var wg sync.WaitGroup
	codes := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			codes[i], errs[i] = r.ReserveResultCode(ctx, storage.CodeRequest{Dossier: storagetest.Agency + "-250718-0043",
				Agency: storagetest.Agency, Owner: storage.CodeOwner{InputKey: in(100 + i), BatchID: "b9"}})
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil || seen[codes[i]] {
			t.Errorf("concurrent reservation %d = %q, %v", i, codes[i], errs[i])
		}
		seen[codes[i]] = true
	}
	if !seen[storagetest.Agency+"-250718-0043-KQ10"] {
		t.Errorf("codes %v are not KQ1..KQ10", codes)
	}
}

// TestReserveResultCodeOverUnownedCodes: codes filed before codes had
// owners belong to the intake their manifest names.
func TestReserveResultCodeOverUnownedCodes(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	req := storagetest.Result(7, 1, day)
	mine := storage.InputKeyOf([]byte("old scan"))
	req.Manifest.InputKey = mine
	m := file(t, r, req)
	dossier := m.DossierCode
	for _, tc := range []struct {
		name     string
		input    string
		proposed string
		want     string
	}{
		{"the intake it was filed for", mine, m.ResultCode, m.ResultCode},
		{"another intake", storage.InputKeyOf([]byte("new scan")), dossier + "-KQ1", ""},
	} {
		got, err := r.ReserveResultCode(ctx, storage.CodeRequest{Dossier: dossier, Agency: storagetest.Agency,
			Owner: storage.CodeOwner{InputKey: tc.input, BatchID: "b1"}, Proposed: tc.proposed})
		if tc.want == "" {
			if !errors.Is(err, storage.ErrTaken) {
				t.Errorf("%s: %q, %v; want ErrTaken", tc.name, got, err)
			}
		} else if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestAllocateDossierCodeFullDay: when every probe finds a claim, the
// allocator lists the day for what is left, and says when nothing is.
func TestAllocateDossierCodeFullDay(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a whole day")
	}
	r, _ := newRepo(t)
	ctx := t.Context()
	for seq := 1; seq <= 9999; seq++ {
		if seq == 4999 {
			continue
		}
		if err := r.ReserveDossierCode(ctx, fmt.Sprintf("%s-250718-%04d", storagetest.Agency, seq), storage.DossierClaim{BatchID: "fill"}); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := r.AllocateDossierCode(ctx, storagetest.Agency, day, storage.DossierClaim{BatchID: "b"}); err != nil || c != storagetest.Agency+"-250718-4999" {
		t.Errorf("allocation in a nearly full day = %q, %v; want the one free code 4999", c, err)
	}
	if c, err := r.AllocateDossierCode(ctx, storagetest.Agency, day, storage.DossierClaim{BatchID: "b"}); !errors.Is(err, storage.ErrExists) || !strings.Contains(err.Error(), "used all") {
		t.Errorf("allocation in a full day = %q, %v; want ErrExists, all codes used", c, err)
	}
}

// TestCodesUsedBeforeClaims: dossier codes that hold results filed before
// codes were claimed (uploads named codes unreserved then) are neither
// reserved for another upload nor allocated again.
func TestCodesUsedBeforeClaims(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	for i := 1; i <= 2; i++ {
		file(t, r, storagetest.Result(i, 1, day)) // dossiers 0001 and 0002, unclaimed
	}
	if err := r.ReserveDossierCode(ctx, storagetest.Agency+"-250718-0002", storage.DossierClaim{BatchID: "b1"}); !errors.Is(err, storage.ErrTaken) {
		t.Errorf("naming a code with older results: %v, want ErrTaken", err)
	}
	if err := r.ReserveDossierCode(ctx, storagetest.Agency+"-250718-0002", storage.DossierClaim{BatchID: "b1"}); !errors.Is(err, storage.ErrTaken) {
		t.Errorf("naming it again in the same upload: %v, want ErrTaken", err)
	}
	c, err := r.AllocateDossierCode(ctx, storagetest.Agency, day, storage.DossierClaim{BatchID: "b2"})
	if err != nil || c != storagetest.Agency+"-250718-0003" {
		t.Errorf("allocation = %q, %v; want 0003, past the used 0001 and 0002", c, err)
	}
}

// TestClaimTokenIDOnce: a token's first use is recorded; its second, from
// this repository or another over the same bucket (another API process),
// is refused with ErrExists, and so is a concurrent race for it.
func TestClaimTokenIDOnce(t *testing.T) {
	r, b := newRepo(t)
	other, err := storage.New(b, storage.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	exp := day.Add(30 * time.Minute)
	mac := func(c byte) []byte { return []byte(strings.Repeat(string(c), 32)) }
	if err := r.ClaimTokenID(t.Context(), mac('a'), exp); err != nil {
		t.Fatalf("first use: %v", err)
	}
	for name, repo := range map[string]*storage.Repository{"same": r, "other": other} {
		if err := repo.ClaimTokenID(t.Context(), mac('a'), exp); !errors.Is(err, storage.ErrExists) {
			t.Errorf("replay through the %s repository: got %v, want ErrExists", name, err)
		}
	}
	if err := other.ClaimTokenID(t.Context(), mac('b'), exp); err != nil {
		t.Errorf("another token: got %v, want nil", err)
	}
	if err := r.ClaimTokenID(t.Context(), []byte("short"), exp); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("short HMAC: got %v, want ErrInvalid", err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if other.ClaimTokenID(t.Context(), mac('c'), exp) == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("concurrent claims of one token: %d succeeded, want 1", wins.Load())
	}
	got := keys(t, b, storage.TokenIDDayPrefix(exp))
	if len(got) != 3 {
		t.Errorf("got %d token records %v, want 3", len(got), got)
	}
	for _, k := range got {
		if err := storage.CheckKey(k); err != nil {
			t.Error(err)
		}
	}
}

// TestIntakeReadOnce: a large intake is read into one buffer of about its
// size (it was once read into a buffer twice its size, the first one
// thrown away on the way).
func TestIntakeReadOnce(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	for _, n := range []int{1, 65536, 65536*3 + 7, 8 << 20} {
		scan := make([]byte, n)
		scan[0] = 0xff
		for i := 1; i < n; i++ {
			scan[i] = byte(i*7 + i>>9)
		}
		key, err := r.PutIntake(ctx, scan, storage.IntakeMeta{Name: "big.pdf"})
		if err != nil {
			t.Fatal(err)
		}
		data, _, err := r.Intake(ctx, key)
		if err != nil || !bytes.Equal(data, scan) {
			t.Fatalf("%d bytes: Intake = %d bytes, %v", n, len(data), err)
		}
		if limit := n + n/1000 + 1024; cap(data) > limit {
			t.Errorf("%d bytes read into a buffer of %d bytes, want at most %d", n, cap(data), limit)
		}
	}
}

// TestIntakeTo: IntakeTo writes the scan Intake returns, with the same
// meta; a writer that fails is its own error, not a corrupt object.
func TestIntakeTo(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	scan := bytes.Repeat([]byte("\xff\xd8\xff scan "), 30000)
	key, err := r.PutIntake(ctx, scan, storage.IntakeMeta{Name: "a.jpg", BatchID: "b1"})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	meta, err := r.IntakeTo(ctx, key, &got)
	if err != nil || !bytes.Equal(got.Bytes(), scan) {
		t.Fatalf("IntakeTo = %d bytes, %v; want the %d bytes stored", got.Len(), err, len(scan))
	}
	_, want, err := r.Intake(ctx, key)
	if err != nil || meta != want {
		t.Errorf("IntakeTo meta %+v, Intake's %+v (%v)", meta, want, err)
	}
	full := errors.New("disk full")
	if _, err := r.IntakeTo(ctx, key, failingWriter{full}); !errors.Is(err, full) || errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("failing writer: %v, want %v and not ErrCorrupt", err, full)
	}
	if _, err := r.IntakeTo(ctx, storage.InputKeyOf([]byte("never uploaded")), &got); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing intake: %v, want ErrNotFound", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
