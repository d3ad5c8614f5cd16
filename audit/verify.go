package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"sohoa/storage"
)

// Reader is what verification and queries need from object storage.
type Reader interface {
	Get(ctx context.Context, key string) ([]byte, storage.ObjectInfo, error)
	List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error
}

// BreakError reports a place where a chain does not hold.
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

// Chain summarises one writer's verified chain.
type Chain struct {
	Writer  string
	Start   time.Time // time of the open record
	Batches int
	// Records counts the chain's requests (open and close records aside).
	Records uint64
	Tail    Head // the last verified record
	// Closed: the chain ends with a close record. An open chain belongs to
	// a running writer, or to a dead one whose WAL was not replayed yet.
	Closed bool
}

// Report summarises the verified chains.
type Report struct {
	Chains  []Chain
	Batches int
	Records uint64 // requests, over all chains
	// Breaks lists every break found: at most one per chain (its first),
	// plus every head another chain's open record names that does not hold.
	Breaks []*BreakError
}

// Open lists the writers whose chain has no close record.
func (r Report) Open() []string {
	var ws []string
	for _, c := range r.Chains {
		if !c.Closed {
			ws = append(ws, c.Writer)
		}
	}
	return ws
}

// batchRef is one stored batch, by key.
type batchRef struct {
	key   string
	first uint64
	n     int
}

// listChains lists the batches under audit/ by writer, each chain in
// sequence order. Keys of no audit layout are returned apart.
func listChains(ctx context.Context, st Reader) (map[string][]batchRef, []string, error) {
	chains := map[string][]batchRef{}
	var stray []string
	err := st.List(ctx, storage.AuditPrefix(), func(oi storage.ObjectInfo) error {
		w, first, n, err := storage.ParseAuditKey(oi.Key)
		if err != nil {
			stray = append(stray, oi.Key)
			return nil
		}
		chains[w] = append(chains[w], batchRef{oi.Key, first, n})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("audit: list batches: %w", err)
	}
	for _, bs := range chains {
		slices.SortFunc(bs, func(a, b batchRef) int { return cmp.Compare(a.first, b.first) })
	}
	return chains, stray, nil
}

// readBatch fetches and parses one batch; a bad batch is a *BreakError.
func readBatch(ctx context.Context, st Reader, key string) ([]Record, error) {
	b, _, err := st.Get(ctx, key)
	if errors.Is(err, storage.ErrCorrupt) {
		return nil, &BreakError{Batch: key, Reason: "stored bytes fail their checksum"}
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read batch %s: %w", key, err)
	}
	recs, err := parseBatch(b)
	if err != nil {
		return nil, &BreakError{Batch: key, Reason: "unparsable: " + err.Error()}
	}
	return recs, nil
}

// Verify walks every chain batch by batch and checks, per chain: that it
// starts with an open record at 1, that record numbers run without a gap
// or overlap across batches (a deleted batch is a gap), that each batch
// holds the count of records its key names (a batch cut short is caught
// even at the end of a chain), that every record belongs to the chain's
// writer (a batch spliced in from another chain is caught), each record's
// hash and each link to its predecessor, and that nothing follows a close
// record. Then every head an open record names must exist, with that hash,
// at the end of a batch of that chain: a deleted chain, or one cut short
// below what a later writer saw, is a break. Objects under audit/ with no
// batch key are breaks too.
//
// It returns the first break as a *BreakError (all are in the Report); an
// error reaching the store is returned as is.
func Verify(ctx context.Context, st Reader) (Report, error) {
	var rep Report
	chains, stray, err := listChains(ctx, st)
	if err != nil {
		return rep, err
	}
	for _, k := range stray {
		rep.Breaks = append(rep.Breaks, &BreakError{Batch: k, Reason: "not an audit batch key"})
	}
	type witness struct {
		by   string // the open batch naming it
		head Head
	}
	var witnesses []witness
	ends := map[string]map[uint64]string{} // writer → seq → hash, at batch ends
	verified := map[string]uint64{}        // writer → last verified seq
	writers := make([]string, 0, len(chains))
	for w := range chains {
		writers = append(writers, w)
	}
	slices.Sort(writers)
	for _, w := range writers {
		c := Chain{Writer: w, Tail: Head{Writer: w, Hash: GenesisHash}}
		ends[w] = map[uint64]string{}
		brk := func(key string, seq uint64, format string, args ...any) error {
			return &BreakError{Batch: key, Seq: seq, Reason: fmt.Sprintf(format, args...)}
		}
		err := func() error {
			for _, b := range chains[w] {
				next := c.Tail.Seq + 1
				switch {
				case b.first > next:
					return brk(b.key, 0, "records %d to %d are missing (a batch was removed)", next, b.first-1)
				case b.first < next:
					return brk(b.key, 0, "overlaps the batch before it, which ends at record %d", next-1)
				}
				recs, err := readBatch(ctx, st, b.key)
				if err != nil {
					return err
				}
				if len(recs) != b.n {
					return brk(b.key, 0, "holds %d records, its key says %d (cut short or padded)", len(recs), b.n)
				}
				for _, r := range recs {
					switch {
					case r.Writer != w:
						return brk(b.key, r.Seq, "record of writer %q, not of this chain (spliced in from another chain)", r.Writer)
					case r.Seq != c.Tail.Seq+1:
						return brk(b.key, r.Seq, "expected record %d", c.Tail.Seq+1)
					case r.PrevHash != c.Tail.Hash:
						return brk(b.key, r.Seq, "prev_hash does not match the previous record")
					case c.Closed:
						return brk(b.key, r.Seq, "record after the chain's close record")
					case r.Seq == 1 && r.Event != EventOpen:
						return brk(b.key, r.Seq, "the chain does not start with an open record")
					case r.Seq != 1 && r.Event == EventOpen:
						return brk(b.key, r.Seq, "open record inside the chain")
					}
					h, err := r.computeHash()
					if err != nil {
						return err
					}
					if h != r.Hash {
						return brk(b.key, r.Seq, "record hash mismatch (record altered)")
					}
					switch r.Event {
					case "":
						c.Records++
					case EventOpen:
						c.Start = r.Time
						for _, hd := range r.Heads {
							witnesses = append(witnesses, witness{b.key, hd})
						}
					case EventClose:
						c.Closed = true
					default:
						return brk(b.key, r.Seq, "unknown event %q", r.Event)
					}
					c.Tail.Seq, c.Tail.Hash = r.Seq, r.Hash
				}
				ends[w][c.Tail.Seq] = c.Tail.Hash
				c.Batches++
			}
			return nil
		}()
		var be *BreakError
		switch {
		case errors.As(err, &be):
			rep.Breaks = append(rep.Breaks, be)
		case err != nil:
			return rep, err
		}
		verified[w] = c.Tail.Seq
		rep.Chains = append(rep.Chains, c)
		rep.Batches += c.Batches
		rep.Records += c.Records
	}
	for _, wt := range witnesses {
		h := wt.head
		end, ok := ends[h.Writer]
		switch {
		case !ok:
			rep.Breaks = append(rep.Breaks, &BreakError{Batch: wt.by, Seq: 1,
				Reason: fmt.Sprintf("names chain %s at record %d, but no such chain is stored (chain removed)", h.Writer, h.Seq)})
		case h.Seq > verified[h.Writer] && brokeIn(rep.Breaks, h.Writer):
			// The chain broke before that record: reported already.
		case h.Seq > verified[h.Writer]:
			rep.Breaks = append(rep.Breaks, &BreakError{Batch: wt.by, Seq: 1,
				Reason: fmt.Sprintf("saw chain %s reach record %d, but it ends at %d (chain cut short)", h.Writer, h.Seq, verified[h.Writer])})
		case end[h.Seq] != h.Hash:
			rep.Breaks = append(rep.Breaks, &BreakError{Batch: wt.by, Seq: 1,
				Reason: fmt.Sprintf("saw chain %s end a batch at record %d with another hash (chain rewritten)", h.Writer, h.Seq)})
		}
	}
	if len(rep.Breaks) > 0 {
		return rep, rep.Breaks[0]
	}
	return rep, nil
}

// brokeIn reports whether one of breaks is in writer's chain.
func brokeIn(breaks []*BreakError, writer string) bool {
	prefix := storage.AuditChainPrefix(writer)
	return slices.ContainsFunc(breaks, func(b *BreakError) bool { return strings.HasPrefix(b.Batch, prefix) })
}

// Scan calls fn with each batch's records: chain by chain, each in
// sequence order. An unreadable batch is reported as a *BreakError.
func Scan(ctx context.Context, st Reader, fn func(batch string, recs []Record) error) error {
	chains, _, err := listChains(ctx, st)
	if err != nil {
		return err
	}
	writers := make([]string, 0, len(chains))
	for w := range chains {
		writers = append(writers, w)
	}
	slices.Sort(writers)
	for _, w := range writers {
		for _, b := range chains[w] {
			recs, err := readBatch(ctx, st, b.key)
			if err != nil {
				return err
			}
			if err := fn(b.key, recs); err != nil {
				return err
			}
		}
	}
	return nil
}

// Query calls fn for every stored request whose CitizenHash is citizenHash
// (see CitizenHash), over every chain, in time order: "who read this
// citizen's results".
func Query(ctx context.Context, st Reader, citizenHash string, fn func(Record) error) error {
	if citizenHash == "" {
		return nil
	}
	var hits []Record
	err := Scan(ctx, st, func(_ string, recs []Record) error {
		for _, r := range recs {
			if r.Event == "" && r.CitizenHash == citizenHash {
				hits = append(hits, r)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(hits, func(a, b Record) int { return a.Time.Compare(b.Time) })
	for _, r := range hits {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
