// This file owns the record of bearer tokens already used, so that a token
// is accepted once: every API process shares it through the bucket.

package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ClaimTokenID records, create-once, the first use of a bearer token that
// expires at expires; tokenHMAC is the caller's keyed hash of the token's
// client and jti (32 bytes). A second claim of the same token, by this
// process or any other sharing the bucket, yields an error wrapping
// ErrExists: the token is being replayed. The record is needed only until
// expires; TokenIDDayPrefix groups records by that day.
func (r *Repository) ClaimTokenID(ctx context.Context, tokenHMAC []byte, expires time.Time) error {
	if len(tokenHMAC) != 32 {
		return fmt.Errorf("claim token id: want a 32-byte HMAC, got %d bytes: %w", len(tokenHMAC), ErrInvalid)
	}
	rec := struct {
		ExpiresAt time.Time `json:"expires_at"`
		ClaimedAt time.Time `json:"claimed_at"`
	}{expires.UTC(), r.now().UTC()}
	err := r.PutJSON(ctx, TokenIDKey(expires, tokenHMAC), rec)
	if errors.Is(err, ErrExists) {
		return fmt.Errorf("claim token id: already used: %w", ErrExists)
	}
	if err != nil {
		return fmt.Errorf("claim token id: %w", err)
	}
	return nil
}
