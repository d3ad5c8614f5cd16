// This file owns the allocation of dossier codes.

package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AllocateDossierCode claims the next dossier code {agency}-{yymmdd}-{seq}
// of an agency and day (Vietnam time) by a create-once write under
// dossiers/, so concurrent callers never get the same code.
func (r *Repository) AllocateDossierCode(ctx context.Context, agency string, day time.Time) (string, error) {
	if !ValidAgencyCode(agency) {
		return "", fmt.Errorf("allocate dossier code: agency %q: %w", agency, ErrInvalid)
	}
	seq := 0
	if err := r.b.List(ctx, DossierDayPrefix(agency, day), func(o ObjectInfo) error {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(o.Key, DossierDayPrefix(agency, day)), "%d", &n); err == nil {
			seq = max(seq, n)
		}
		return nil
	}); err != nil {
		return "", fmt.Errorf("allocate dossier code: %w", err)
	}
	claim := struct {
		ClaimedAt time.Time `json:"claimed_at"`
	}{r.now()}
	for range maxDossierAllocAttempts {
		seq++
		if seq > maxDossierSeq {
			return "", fmt.Errorf("allocate dossier code: %s has used all %d codes of %s: %w",
				agency, maxDossierSeq, day.In(Vietnam()).Format(time.DateOnly), ErrExists)
		}
		err := r.PutJSON(ctx, DossierKey(agency, day, seq), claim)
		if err == nil {
			return FormatDossierCode(agency, day, seq), nil
		}
		if !errors.Is(err, ErrExists) {
			return "", fmt.Errorf("allocate dossier code: %w", err)
		}
	}
	return "", fmt.Errorf("allocate dossier code: too much contention: %w", ErrExists)
}
