// This file owns reading back the sealed holder data of a filed result.

package storage

import (
	"context"
	"fmt"
)

// Sealed decrypts a manifest's holder envelope for an authorised use
// (rendering, an authorised search answer, index rebuild).
func (r *Repository) Sealed(ctx context.Context, m Manifest) (Sealed, error) {
	s, err := open(r.keys, holderAAD(m.ID, m.ResultCode, m.Holder.IDEnc.KID), m.Holder.IDEnc)
	if err != nil {
		return Sealed{}, fmt.Errorf("holder of %s: %w", m.ResultCode, err)
	}
	return s, nil
}

// HolderID decrypts a manifest's holder ID type and ID.
func (r *Repository) HolderID(ctx context.Context, m Manifest) (idType, id string, err error) {
	s, err := r.Sealed(ctx, m)
	if err != nil {
		return "", "", err
	}
	return s.IDType, s.ID, nil
}
