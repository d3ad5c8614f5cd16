// This file owns dossier codes: allocating the next code of an agency's day
// and reserving a code an uploader names, both by create-once claims under
// dossiers/, so no two batches ever share a dossier code.

package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrTaken: a dossier or result code is already reserved by another batch
// or intake. It wraps ErrExists.
var ErrTaken = fmt.Errorf("code reserved by another dossier: %w", ErrExists)

// DossierClaim is the body of a dossier-code claim: who reserved the code.
type DossierClaim struct {
	ClaimedAt time.Time `json:"claimed_at"`
	// BatchID is the upload batch the code belongs to; every file of that
	// batch may use it, no other batch may.
	BatchID string `json:"batch_id,omitempty"`
	// InputKey is the intake an allocated code was made for (empty for a
	// code the uploader named, which a whole batch shares).
	InputKey string `json:"input_key,omitempty"`
	// Supplied says the uploader named the code (it came from the one-stop
	// system); otherwise it was allocated here.
	Supplied bool `json:"supplied,omitempty"`
}

// AllocateDossierCode claims the next free dossier code
// {agency}-{yymmdd}-{seq} of an agency and day (Vietnam time) for c and
// returns it. The claim is a create-once write, so concurrent callers never
// get the same code; the guess at the next free sequence costs a binary
// search of about 14 existence probes, never a listing of the day (the day's
// claims are dense from 0001, apart from codes uploaders named ahead of the
// counter, which the create-once write then skips).
func (r *Repository) AllocateDossierCode(ctx context.Context, agency string, day time.Time, c DossierClaim) (string, error) {
	if !ValidAgencyCode(agency) {
		return "", fmt.Errorf("allocate dossier code: agency %q: %w", agency, ErrInvalid)
	}
	if c.ClaimedAt.IsZero() {
		c.ClaimedAt = r.now()
	}
	c.Supplied = false
	for attempts := 0; attempts < maxDossierAllocAttempts; {
		seq, err := r.nextDossierSeq(ctx, agency, day)
		if err != nil {
			return "", fmt.Errorf("allocate dossier code: %w", err)
		}
		if seq > maxDossierSeq {
			return "", fmt.Errorf("allocate dossier code: %s has used all %d codes of %s: %w",
				agency, maxDossierSeq, day.In(Vietnam()).Format(time.DateOnly), ErrExists)
		}
		// Concurrent callers found the same guess: walk on from it a few
		// steps, then guess again.
		for n := seq; n < seq+8 && n <= maxDossierSeq && attempts < maxDossierAllocAttempts; n++ {
			attempts++
			err := r.PutJSON(ctx, DossierKey(agency, day, n), c)
			if err == nil {
				code := FormatDossierCode(agency, day, n)
				used, err := r.usedUnclaimed(ctx, code)
				if err != nil {
					return "", fmt.Errorf("allocate dossier code: %w", err)
				}
				if !used {
					return code, nil
				}
				continue // our claim stays: it marks the code as used
			}
			if !errors.Is(err, ErrExists) {
				return "", fmt.Errorf("allocate dossier code: %w", err)
			}
		}
	}
	return "", fmt.Errorf("allocate dossier code: too much contention: %w", ErrExists)
}

// nextDossierSeq guesses the lowest free sequence of a day: a binary search
// for a claimed sequence followed by a free one, by existence probes. With
// claims dense from 1 it is exact; holes (codes named ahead of the counter)
// only make it return a free sequence past one of them. When every probe
// finds a claim it falls back to a listing, to find what is left of a nearly
// full day (maxDossierSeq+1 when nothing is).
func (r *Repository) nextDossierSeq(ctx context.Context, agency string, day time.Time) (int, error) {
	claimed := func(seq int) (bool, error) { return r.Exists(ctx, DossierKey(agency, day, seq)) }
	ok, err := claimed(1)
	if err != nil || !ok {
		return 1, err
	}
	lo, hi := 1, maxDossierSeq+1 // lo is claimed; hi is free or past the end
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := claimed(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	if hi <= maxDossierSeq {
		return hi, nil
	}
	used := make(map[int]bool, maxDossierSeq)
	prefix := DossierDayPrefix(agency, day)
	if err := r.b.List(ctx, prefix, func(o ObjectInfo) error {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(o.Key, prefix), "%04d", &n); err == nil {
			used[n] = true
		}
		return nil
	}); err != nil {
		return 0, err
	}
	for n := 1; n <= maxDossierSeq; n++ {
		if !used[n] {
			return n, nil
		}
	}
	return maxDossierSeq + 1, nil
}

// usedUnclaimed reports whether results were filed under a dossier code
// before dossier codes were claimed (uploads named codes unreserved then):
// its first result code exists.
func (r *Repository) usedUnclaimed(ctx context.Context, code string) (bool, error) {
	return r.Exists(ctx, CodeKey(code+"-KQ1"))
}

// ReserveDossierCode reserves a dossier code an uploader named, for c's
// batch. It is idempotent within the batch (every file of one upload may
// name the same dossier); a code claimed by another batch, allocated here,
// or holding results filed before codes were claimed yields ErrTaken. The
// code's shape is checked, not its agency or date: that is the caller's
// policy.
func (r *Repository) ReserveDossierCode(ctx context.Context, code string, c DossierClaim) error {
	agency, day, seq, err := ParseDossierCode(code)
	if err != nil {
		return fmt.Errorf("reserve dossier code: %w", err)
	}
	if c.BatchID == "" {
		return fmt.Errorf("reserve dossier code %s: no batch: %w", code, ErrInvalid)
	}
	if c.ClaimedAt.IsZero() {
		c.ClaimedAt = r.now()
	}
	c.Supplied, c.InputKey = true, ""
	for range 2 {
		held, err := r.DossierClaim(ctx, code)
		switch {
		case err == nil && held.Supplied && held.BatchID == c.BatchID:
			return nil // another file of the upload that reserved it
		case err == nil:
			return fmt.Errorf("reserve dossier code %s: %w", code, ErrTaken)
		case !errors.Is(err, ErrNotFound):
			return fmt.Errorf("reserve dossier code %s: %w", code, err)
		}
		used, err := r.usedUnclaimed(ctx, code)
		if err != nil {
			return fmt.Errorf("reserve dossier code %s: %w", code, err)
		}
		if used {
			return fmt.Errorf("reserve dossier code %s: results were filed under it before codes were reserved: %w", code, ErrTaken)
		}
		err = r.PutJSON(ctx, DossierKey(agency, day, seq), c)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrExists) {
			return fmt.Errorf("reserve dossier code %s: %w", code, err)
		}
		// Another upload claimed it just now: judge its claim.
	}
	return fmt.Errorf("reserve dossier code %s: %w", code, ErrTaken)
}

// DossierClaim returns the claim of a dossier code (ErrNotFound when
// nobody reserved it).
func (r *Repository) DossierClaim(ctx context.Context, code string) (DossierClaim, error) {
	agency, day, seq, err := ParseDossierCode(code)
	if err != nil {
		return DossierClaim{}, fmt.Errorf("dossier claim: %w", err)
	}
	var c DossierClaim
	if err := r.getJSON(ctx, DossierKey(agency, day, seq), &c, maxPointerBytes); err != nil {
		return DossierClaim{}, fmt.Errorf("dossier claim %s: %w", code, err)
	}
	return c, nil
}
