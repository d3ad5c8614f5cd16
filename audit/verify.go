package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"sohoa/storage"
)

// Reader is what verification and queries need from object storage.
type Reader interface {
	Get(ctx context.Context, key string) ([]byte, storage.ObjectInfo, error)
	List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error
}

// BreakError reports the first place where the chain does not hold.
type BreakError struct {
	Batch  string // object key of the batch
	Seq    uint64 // record sequence number, 0 when the batch itself is bad
	Reason string
}

func (e *BreakError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("audit chain broken in batch %s: %s", e.Batch, e.Reason)
	}
	return fmt.Sprintf("audit chain broken in batch %s at record %d: %s", e.Batch, e.Seq, e.Reason)
}

// Report summarises a verified chain.
type Report struct {
	Batches  int
	Records  uint64
	LastHash string
}

// Verify walks every stored batch in order and checks numbering,
// batch names, each record's hash and each link to its predecessor. A break
// is returned as a *BreakError naming the batch.
func Verify(ctx context.Context, st Reader) (Report, error) {
	rep := Report{LastHash: GenesisHash}
	err := Scan(ctx, st, func(batch string, recs []Record) error {
		rep.Batches++
		first, err := storage.ParseAuditKey(batch)
		if err != nil {
			return &BreakError{Batch: batch, Reason: "batch name is not a sequence number"}
		}
		if len(recs) == 0 {
			return &BreakError{Batch: batch, Reason: "empty batch"}
		}
		if first != recs[0].Seq {
			return &BreakError{Batch: batch, Reason: fmt.Sprintf("named for record %d but starts at %d", first, recs[0].Seq)}
		}
		for _, r := range recs {
			if r.Seq != rep.Records+1 {
				return &BreakError{Batch: batch, Seq: r.Seq, Reason: fmt.Sprintf("expected record %d", rep.Records+1)}
			}
			if r.PrevHash != rep.LastHash {
				return &BreakError{Batch: batch, Seq: r.Seq, Reason: "prev_hash does not match the previous record"}
			}
			h, err := r.computeHash()
			if err != nil {
				return err
			}
			if h != r.Hash {
				return &BreakError{Batch: batch, Seq: r.Seq, Reason: "record hash mismatch (record altered)"}
			}
			rep.Records, rep.LastHash = r.Seq, r.Hash
		}
		return nil
	})
	return rep, err
}

// Scan calls fn with each batch's records, in chain order. An unreadable
// batch is reported as a *BreakError.
func Scan(ctx context.Context, st Reader, fn func(batch string, recs []Record) error) error {
	var keys []string
	if err := st.List(ctx, storage.AuditPrefix(), func(oi storage.ObjectInfo) error {
		if strings.HasSuffix(oi.Key, batchSuffix) {
			keys = append(keys, oi.Key)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("audit: list batches: %w", err)
	}
	for _, k := range keys {
		b, _, err := st.Get(ctx, k)
		if errors.Is(err, storage.ErrCorrupt) {
			return &BreakError{Batch: k, Reason: "stored bytes fail their checksum"}
		}
		if err != nil {
			return fmt.Errorf("audit: read batch %s: %w", k, err)
		}
		recs, err := parseBatch(b)
		if err != nil {
			return &BreakError{Batch: k, Reason: "unparsable: " + err.Error()}
		}
		if err := fn(k, recs); err != nil {
			return err
		}
	}
	return nil
}

// Query calls fn for every stored record whose CitizenHash is citizenHash
// (see CitizenHash), in chain order: "who read this citizen's results".
func Query(ctx context.Context, st Reader, citizenHash string, fn func(Record) error) error {
	return Scan(ctx, st, func(_ string, recs []Record) error {
		for _, r := range recs {
			if r.CitizenHash == citizenHash && citizenHash != "" {
				if err := fn(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
