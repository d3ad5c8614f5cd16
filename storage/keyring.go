// This file owns the bucket's key-ring markers: which key IDs the bucket's
// data was written with, so a process configured with other keys refuses to
// start instead of writing objects nobody can read.

package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrKeyMismatch: the configured key rings lack a key the bucket's data was
// written with, or hold another key under its ID.
var ErrKeyMismatch = errors.New("configured keys do not match the bucket's")

// The key rings a repository holds, as KeyringKey names them.
const (
	ringIndex = "index"
	ringSeal  = "seal"
)

// keyMarker is the body of a KeyringKey: a key ID the bucket holds data
// under and a check value of its key (an HMAC of a fixed text under the
// key: it tells two keys under one ID apart and reveals nothing of them).
type keyMarker struct {
	Ring    string    `json:"ring"`
	KID     string    `json:"kid"`
	Check   string    `json:"check"`
	FirstAt time.Time `json:"first_used_at"`
}

func keyCheck(ring, kid string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sohoa-key-check\x00" + ring + "\x00" + kid))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Open returns a Repository over b, as New does, after CheckKeys: what a
// process that serves or changes a bucket (serve, worker, the operator
// commands) opens it with.
func Open(ctx context.Context, b Bucket, opts Options) (*Repository, error) {
	r, err := New(b, opts)
	if err != nil {
		return nil, err
	}
	if err := r.CheckKeys(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// CheckKeys compares the configured key rings with the key IDs the bucket
// records under keyring/. Every key ID the bucket was written with must be
// in the configured ring with the same key: a rotated ring lists the new key
// first and keeps the old ones. Otherwise it returns ErrKeyMismatch naming
// the key IDs on both sides (never key material) and writes nothing. When
// they match, the current key IDs are recorded create-once (on the first
// open of a bucket, and after a rotation); a concurrent first open with
// other keys loses that race and is refused too.
func (r *Repository) CheckKeys(ctx context.Context) error {
	held := map[string]map[string]keyMarker{}
	var keys []string
	if err := r.b.List(ctx, KeyringPrefix(), func(o ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return fmt.Errorf("check keys: %w", err)
	}
	for _, k := range keys {
		var mk keyMarker
		if err := r.getJSON(ctx, k, &mk, maxPointerBytes); err != nil {
			return fmt.Errorf("check keys: %w", err)
		}
		if KeyringKey(mk.Ring, mk.KID) != k {
			return fmt.Errorf("check keys: marker %s names another key: %w", k, ErrCorrupt)
		}
		if held[mk.Ring] == nil {
			held[mk.Ring] = map[string]keyMarker{}
		}
		held[mk.Ring][mk.KID] = mk
	}
	rings := []struct {
		name string
		keys map[string][]byte
		cur  string
	}{{ringIndex, r.keys.IndexKeys, r.keys.IndexKID}, {ringSeal, r.keys.SealKeys, r.keys.SealKID}}
	var problems []string
	for _, ring := range rings {
		if p := ringMismatch(ring.name, held[ring.name], ring.keys, ring.cur); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("check keys: %s: %w", strings.Join(problems, "; "), ErrKeyMismatch)
	}
	for _, ring := range rings {
		if _, ok := held[ring.name][ring.cur]; ok {
			continue
		}
		mk := keyMarker{Ring: ring.name, KID: ring.cur, Check: keyCheck(ring.name, ring.cur, ring.keys[ring.cur]), FirstAt: r.now().UTC()}
		err := r.PutJSON(ctx, KeyringKey(ring.name, ring.cur), mk)
		if errors.Is(err, ErrExists) {
			var won keyMarker
			if err := r.getJSON(ctx, KeyringKey(ring.name, ring.cur), &won, maxPointerBytes); err != nil {
				return fmt.Errorf("check keys: %w", err)
			}
			if won.Check != mk.Check {
				return fmt.Errorf("check keys: %s key %s: another process recorded a different key under this ID just now: %w",
					ring.name, ring.cur, ErrKeyMismatch)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("check keys: record %s key %s: %w", ring.name, ring.cur, err)
		}
		r.log.InfoContext(ctx, "key recorded in the bucket", "ring", ring.name, "kid", ring.cur)
	}
	return nil
}

// ringMismatch describes how a configured ring fails the bucket's markers
// of that ring, or returns "".
func ringMismatch(ring string, held map[string]keyMarker, keys map[string][]byte, cur string) string {
	var missing, differ []string
	for kid, mk := range held {
		key, ok := keys[kid]
		switch {
		case !ok:
			missing = append(missing, kid)
		case keyCheck(ring, kid, key) != mk.Check:
			differ = append(differ, kid)
		}
	}
	if len(missing) == 0 && len(differ) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(differ)
	bucket := make([]string, 0, len(held))
	for kid := range held {
		bucket = append(bucket, kid)
	}
	slices.Sort(bucket)
	configured := make([]string, 0, len(keys))
	for kid := range keys {
		configured = append(configured, kid)
	}
	slices.Sort(configured)
	msg := fmt.Sprintf("the bucket's %s keys are %s, the configured %s ring has %s (current %s)",
		ring, strings.Join(bucket, ", "), ring, strings.Join(configured, ", "), cur)
	if len(missing) > 0 {
		msg += fmt.Sprintf(": it lacks %s (a rotated ring keeps the old keys after the new one)", strings.Join(missing, ", "))
	}
	if len(differ) > 0 {
		msg += fmt.Sprintf(": %s holds a different key than the bucket was written with", strings.Join(differ, ", "))
	}
	return msg
}
