// This file owns the keyed citizen index: its entries, the holder hash,
// search by holder and the rebuild from manifests.

package storage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// indexEntry is the body of an index object: enough to skip a result by
// type or dates without reading its manifest. It is a pure function of the
// manifest, so RebuildIndex reproduces it byte for byte.
type indexEntry struct {
	ID            string `json:"id"`
	ResultCode    string `json:"result_code"`
	ManifestKey   string `json:"manifest_key"`
	DocType       string `json:"doc_type"`
	IssuedAt      Date   `json:"issued_at"`
	EffectiveFrom Date   `json:"effective_from"`
	ValidUntil    *Date  `json:"valid_until"`
}

func entryOf(m Manifest, manifestKey string) indexEntry {
	return indexEntry{
		ID: m.ID, ResultCode: m.ResultCode, ManifestKey: manifestKey, DocType: m.DocType,
		IssuedAt: m.IssuedAt, EffectiveFrom: m.Effective(), ValidUntil: m.ValidUntil,
	}
}

// IndexHMAC is the holder's index hash under the current index key, over
// the normalised type and ID. Validate with NormalizeHolderID first: an
// invalid ID is hashed as given (trimmed, upper-cased).
func (r *Repository) IndexHMAC(idType, id string) string {
	t, i, err := NormalizeHolderID(idType, id)
	if err != nil {
		t, i = strings.ToUpper(strings.TrimSpace(idType)), strings.ToUpper(strings.Join(strings.Fields(id), ""))
	}
	return indexHMAC(r.keys.IndexKeys[r.keys.IndexKID], t, i)
}

// IndexKID is the current index key id.
func (r *Repository) IndexKID() string { return r.keys.IndexKID }

// Query selects a holder's results.
type Query struct {
	IDType string
	ID     string
	// DocType, when set, keeps only that document type.
	DocType string
	// ValidAt is when validity is judged; zero is now.
	ValidAt time.Time
	// IncludeHistory returns invalid results too (revoked, expired, …);
	// otherwise only results valid at ValidAt.
	IncludeHistory bool
}

// Hit is one search result with its validity at the query time.
type Hit struct {
	Manifest
	Validity Validity
}

// Search returns a holder's results, newest issue date first. Its cost is
// proportional to that holder's results: it lists the holder's index
// prefix under every known index kid and never scans the repository.
func (r *Repository) Search(ctx context.Context, q Query) ([]Hit, error) {
	idType, id, err := NormalizeHolderID(q.IDType, q.ID)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	t := q.ValidAt
	if t.IsZero() {
		t = r.now()
	}
	kids := make([]string, 0, len(r.keys.IndexKeys))
	for kid := range r.keys.IndexKeys {
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	seen := make(map[string]bool)
	var hits []Hit
	for _, kid := range kids {
		var keys []string
		prefix := IndexPrefix(kid, indexHMAC(r.keys.IndexKeys[kid], idType, id))
		if err := r.b.List(ctx, prefix, func(o ObjectInfo) error {
			keys = append(keys, o.Key)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("search index %s: %w", kid, err)
		}
		for _, k := range keys {
			h, ok, err := r.searchEntry(ctx, k, q, t, seen)
			if err != nil {
				return nil, fmt.Errorf("search: %w", err)
			}
			if ok {
				hits = append(hits, h)
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i].IssuedAt, hits[j].IssuedAt
		if a != b {
			return b.Before(a)
		}
		return hits[i].ResultCode < hits[j].ResultCode
	})
	return hits, nil
}

func (r *Repository) searchEntry(ctx context.Context, key string, q Query, t time.Time, seen map[string]bool) (Hit, bool, error) {
	var e indexEntry
	if err := r.getJSON(ctx, key, &e, maxIndexEntryBytes); err != nil {
		return Hit{}, false, err
	}
	if seen[e.ID] || (q.DocType != "" && e.DocType != q.DocType) {
		return Hit{}, false, nil
	}
	seen[e.ID] = true
	if !q.IncludeHistory {
		// Dates alone rule these out; no manifest read needed.
		if t.Before(e.EffectiveFrom.Start()) || (e.ValidUntil != nil && !t.Before(e.ValidUntil.Start().AddDate(0, 0, 1))) {
			return Hit{}, false, nil
		}
	}
	m, err := r.readManifest(ctx, e.ManifestKey)
	if err != nil {
		return Hit{}, false, err
	}
	if m.ID != e.ID {
		return Hit{}, false, fmt.Errorf("index entry %s: manifest %s does not match: %w", key, e.ManifestKey, ErrCorrupt)
	}
	evs, _, err := r.events(ctx, m.ID)
	if err != nil {
		return Hit{}, false, err
	}
	v := ValidAt(m, evs, t)
	if !v.Valid && !q.IncludeHistory {
		return Hit{}, false, nil
	}
	return Hit{Manifest: m, Validity: v}, true, nil
}

// RebuildIndex recreates every index entry from the manifests alone,
// decrypting each holder ID and hashing it under the current index key. It
// returns the number of manifests indexed. Entries that exist are left as
// they are (they are identical: entries are a pure function of the manifest).
func (r *Repository) RebuildIndex(ctx context.Context) (int, error) {
	var keys []string
	if err := r.b.List(ctx, prefixResults, func(o ObjectInfo) error {
		if IsManifestKey(o.Key) {
			keys = append(keys, o.Key)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("rebuild index: %w", err)
	}
	kid := r.keys.IndexKID
	n := 0
	for _, k := range keys {
		m, err := r.readManifest(ctx, k)
		if err != nil {
			return n, fmt.Errorf("rebuild index: %w", err)
		}
		idType, id, err := r.HolderID(ctx, m)
		if err != nil {
			return n, fmt.Errorf("rebuild index: %w", err)
		}
		h := indexHMAC(r.keys.IndexKeys[kid], idType, id)
		if m.Holder.KID == kid && m.Holder.IDHMAC != h {
			return n, fmt.Errorf("rebuild index: manifest %s: id_hmac does not match its sealed ID: %w", k, ErrCorrupt)
		}
		if err := r.PutJSON(ctx, IndexKey(kid, h, m.ID), entryOf(m, k)); err != nil && !errors.Is(err, ErrExists) {
			return n, fmt.Errorf("rebuild index: %w", err)
		}
		n++
	}
	r.log.InfoContext(ctx, "index rebuilt", "kid", kid, "manifests", n)
	return n, nil
}
