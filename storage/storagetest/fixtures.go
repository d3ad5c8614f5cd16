package storagetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sohoa/storage"
)

// Keys returns fixed test keys with two index kids and two seal kids
// ("k1" current). Never use them outside tests.
func Keys() storage.Keys {
	key := func(b byte) []byte { return []byte(strings.Repeat(string(rune('A'+b)), 32)) }
	return storage.Keys{
		IndexKeys: map[string][]byte{"k1": key(0), "k0": key(1)},
		IndexKID:  "k1",
		SealKeys:  map[string][]byte{"s1": key(2), "s0": key(3)},
		SealKID:   "s1",
	}
}

// Agency is the agency code of every fixture.
const Agency = "000.00.31.H29"

// HolderID is the 12-digit CCCD of fixture holder h.
func HolderID(h int) string { return fmt.Sprintf("0011990%05d", h) }

// HolderName is the name of fixture holder h.
func HolderName(h int) string { return fmt.Sprintf("Nguyễn Thị Ánh Tuyết %d", h) }

// Result returns a complete NewResult: result i (dossier i, KQ1) of holder
// h, issued on issued, valid for 5 years. Its PDF is a small fake.
func Result(i, h int, issued time.Time) storage.NewResult {
	dossier := fmt.Sprintf("%s-%s-%04d", Agency, issued.Format("060102"), i%10000)
	until := storage.DateOf(issued.AddDate(5, 0, -1))
	return storage.NewResult{
		PDF: []byte(fmt.Sprintf("%%PDF-1.7\n%% fixture result %d of holder %d\n%%%%EOF\n", i, h)),
		Manifest: storage.Manifest{
			ResultCode:       dossier + "-KQ1",
			DossierCode:      dossier,
			ProcedureCode:    "1.001234",
			ResultSeq:        1,
			DocType:          "GKS",
			DocTypeName:      "Giấy khai sinh",
			ConvertingAgency: storage.Agency{Code: Agency, Name: "UBND phường Bến Nghé"},
			IssuingAuthority: &storage.Authority{Name: "ỦY BAN NHÂN DÂN PHƯỜNG BẾN NGHÉ",
				SignerTitle: "Chủ tịch", SignerName: "Trần Văn Ký"},
			IssuedAt:   storage.DateOf(issued),
			ValidUntil: &until,
			Origin:     storage.OriginDigitizedOnReceipt,
			Digitization: &storage.Digitization{ScannedAt: issued, DPI: 300, Color: true, Pages: 1,
				SourceScanSHA256: strings.Repeat("ab", 32)},
			File: storage.File{SignatureFormat: storage.SignatureCMSDetached, SignatureTimestamp: true, SigningTime: issued},
		},
		HolderIDType: storage.IDTypeCCCD,
		HolderID:     HolderID(h),
		HolderName:   HolderName(h),
		Extracted: map[string]storage.ExtractedField{
			"so_dinh_danh": {Value: HolderID(h), Confidence: 0.98},
			"ho_ten":       {Value: HolderName(h), Confidence: 0.95},
		},
		Actor: "test",
	}
}

// QueriedHolder is the holder Fill gives FillHits results.
const QueriedHolder = 0

// FillHits is how many results Fill files for QueriedHolder.
const FillHits = 5

// Fill files n results (n ≥ FillHits) with workers concurrent writers:
// FillHits of them, spread through the fill, belong to QueriedHolder; every
// other result has a holder of its own.
func Fill(tb testing.TB, r *storage.Repository, n, workers int) {
	tb.Helper()
	day := time.Date(2025, 7, 18, 9, 0, 0, 0, storage.Vietnam())
	ctx := context.WithoutCancel(tb.Context())
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range max(workers, 1) {
		wg.Go(func() {
			for i := range jobs {
				mu.Lock()
				failed := firstErr != nil
				mu.Unlock()
				if failed {
					continue // drain
				}
				h := i%99_998 + 1
				if i%(n/FillHits) == 0 {
					h = QueriedHolder
				}
				issued := day.AddDate(0, 0, -(i % 3000))
				req := Result(i%10000, h, issued)
				// Unique dossier per result: shift the date by i/10000 blocks.
				dossier := fmt.Sprintf("%s-%s-%04d", Agency, issued.AddDate(0, 0, -(i/10000)*3001).Format("060102"), i%10000)
				req.Manifest.DossierCode, req.Manifest.ResultCode = dossier, dossier+"-KQ1"
				if _, err := r.File(ctx, req); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("fill %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
}
