package storage_test

import (
	"errors"
	"fmt"
	"testing"

	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// TestByDossierCode: a dossier's results, by probing its result codes;
// a code reserved but never filed is skipped.
func TestByDossierCode(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	mk := func(n int) storage.NewResult {
		req := storagetest.Result(1, n, day)
		req.Manifest.ResultSeq = n
		req.Manifest.ResultCode = fmt.Sprintf("%s-KQ%d", req.Manifest.DossierCode, n)
		req.PDF = fmt.Appendf(nil, "%%PDF-1.7\n%% %d\n", n)
		return req
	}
	first := file(t, r, mk(1))
	// KQ2 is reserved for a document whose issue was interrupted.
	code, err := r.ReserveResultCode(ctx, storage.CodeRequest{Dossier: first.DossierCode, Agency: storagetest.Agency,
		Owner: storage.CodeOwner{InputKey: storage.InputKeyOf([]byte("x")), BatchID: "b"}, AcceptOthers: true})
	if err != nil || code != first.DossierCode+"-KQ2" {
		t.Fatalf("reserve: %s %v", code, err)
	}
	third := file(t, r, mk(3))
	other := file(t, r, storagetest.Result(2, 9, day))

	ms, err := r.ByDossierCode(ctx, first.DossierCode)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ResultCode != first.ResultCode || ms[1].ResultCode != third.ResultCode {
		t.Errorf("ByDossierCode = %v", ms)
	}
	if ms, err := r.ByDossierCode(ctx, other.DossierCode); err != nil || len(ms) != 1 {
		t.Errorf("other dossier: %v %v", ms, err)
	}
	if ms, err := r.ByDossierCode(ctx, storagetest.Agency+"-250718-0777"); err != nil || ms == nil || len(ms) != 0 {
		t.Errorf("dossier without results: %v %v", ms, err)
	}
	if _, err := r.ByDossierCode(ctx, "not a code"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("malformed dossier code: %v", err)
	}
}

// TestSupersedeUnder records the decision on both results.
func TestSupersedeUnder(t *testing.T) {
	r, _ := newRepo(t)
	ctx := t.Context()
	old, repl := file(t, r, storagetest.Result(1, 1, day)), file(t, r, storagetest.Result(2, 1, day))
	for range 2 { // a retry is done already
		if err := r.SupersedeUnder(ctx, old.ResultCode, repl.ResultCode, "staff:x", "7/QĐ-UBND"); err != nil {
			t.Fatal(err)
		}
	}
	for code, want := range map[string]storage.StatusEvent{
		old.ResultCode:  {Status: storage.StatusSuperseded, SupersededBy: repl.ResultCode},
		repl.ResultCode: {Status: storage.StatusActive, Supersedes: old.ResultCode},
	} {
		evs, err := r.Events(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		if l := evs[len(evs)-1]; len(evs) != 2 || l.Status != want.Status || l.DecisionRef != "7/QĐ-UBND" || l.SupersededBy != want.SupersededBy || l.Supersedes != want.Supersedes {
			t.Errorf("%s events %+v", code, evs)
		}
	}
}
