package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"sohoa/audit"
	"sohoa/pipeline"
	"sohoa/storage"
)

// DefaultMaxObjects bounds the objects one Load lists.
const DefaultMaxObjects = 1_000_000

// ErrTooLarge: the repository holds more objects than a report may scan.
var ErrTooLarge = errors.New("report: too many objects to scan")

// LoadOptions configure Load.
type LoadOptions struct {
	// Procedures maps a document type to its procedure code (the
	// configured SOHOA_PROCEDURES): the procedure of a file whose upload
	// named none and that has no result yet.
	Procedures map[string]string
	// MaxObjects bounds the listing (default DefaultMaxObjects): past it
	// Load fails with ErrTooLarge rather than run for ever.
	MaxObjects int
	// Workers read objects in parallel (default 8).
	Workers int
}

// Load reads the snapshot of month m from the repository.
//
// Cost: it lists the intake, record, review, approval, quarantine and
// result-lookup folders (one listing each, every object ever stored
// there), reads every intake's metadata (one GET each: the upload time is
// inside the sealed metadata, not in the key), reads the OCR record,
// review items, decisions and result manifests of every file of the
// month's dossiers, reads the whole audit chain for reuse, and lists the
// Kho outbox (no reads: its keys say each event's state). That is
// fine for an office's volume; a later increment can cache the figures of
// closed months.
func Load(ctx context.Context, repo *storage.Repository, m Month, opts LoadOptions) (Snapshot, error) {
	if opts.MaxObjects <= 0 {
		opts.MaxObjects = DefaultMaxObjects
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	l := &loader{repo: repo, opts: opts, keys: map[string]bool{}}
	const x = "\x00folder\x00"
	folder := func(key string) string { return key[:strings.Index(key, x)] }
	for _, prefix := range []string{
		storage.IntakeKey(""), folder(storage.RecordKey(x)), storage.ReviewPrefix(),
		folder(storage.ApprovalKey(x, 0)), folder(storage.QuarantineKey(x)), folder(storage.InputsPrefix(x)),
	} {
		if err := l.list(ctx, prefix); err != nil {
			return Snapshot{}, err
		}
	}
	snap := Snapshot{Month: m}
	intakeFolder, metaSuffix := storage.IntakeKey(""), strings.TrimPrefix(storage.IntakeMetaKey(""), storage.IntakeKey(""))
	var inputKeys []string
	for k := range l.keys {
		if rest, ok := strings.CutPrefix(k, intakeFolder); ok && strings.HasSuffix(rest, metaSuffix) {
			if ik := strings.TrimSuffix(rest, metaSuffix); storage.ValidInputKey(ik) {
				inputKeys = append(inputKeys, ik)
			}
		}
	}
	slices.Sort(inputKeys)
	snap.Intakes = make([]Intake, len(inputKeys))
	if err := l.each(ctx, len(inputKeys), func(ctx context.Context, i int) error {
		return l.readMeta(ctx, inputKeys[i], &snap.Intakes[i])
	}); err != nil {
		return Snapshot{}, err
	}
	// The month's dossiers: those whose first counter upload is in m.
	first := map[string]Intake{}
	for _, in := range snap.Intakes {
		if in.Source == storage.SourceBackfill {
			continue
		}
		if f, ok := first[in.Dossier]; !ok || in.Uploaded.Before(f.Uploaded) {
			first[in.Dossier] = in
		}
	}
	if err := l.each(ctx, len(snap.Intakes), func(ctx context.Context, i int) error {
		in := &snap.Intakes[i]
		if in.Source == storage.SourceBackfill {
			return l.readBackfill(in)
		}
		if f := first[in.Dossier]; !m.Contains(f.Uploaded) {
			return nil
		}
		return l.readDetail(ctx, in)
	}); err != nil {
		return Snapshot{}, err
	}
	reuses, err := LoadReuses(ctx, repo.Bucket(), m)
	if err != nil {
		return Snapshot{}, err
	}
	snap.Reuses = reuses
	if snap.Owners, err = l.owners(ctx, snap); err != nil {
		return Snapshot{}, err
	}
	// The Kho outbox: one listing, no reads.
	if err := repo.ScanOutbox(ctx, func(c storage.OutboxCounts) error {
		k := &snap.Kho
		k.Results++
		k.Events += c.Events
		k.Delivered += c.Delivered
		k.Pending += c.Pending
		k.Dead += c.Dead
		return nil
	}); err != nil {
		return Snapshot{}, fmt.Errorf("report: %w", err)
	}
	return snap, nil
}

// owners reads the manifests of the reused results that are not among the
// month's dossiers: one read per such result.
func (l *loader) owners(ctx context.Context, snap Snapshot) (map[string]Owner, error) {
	known := map[string]bool{}
	byKey := map[string]*Intake{}
	for i := range snap.Intakes {
		in := &snap.Intakes[i]
		byKey[in.Key] = in
		for _, r := range in.Results {
			known[r.Code] = true
		}
	}
	out := map[string]Owner{}
	for _, u := range snap.Reuses {
		for _, code := range u.Results {
			if known[code] {
				continue
			}
			known[code] = true
			m, err := l.repo.Get(ctx, code)
			if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("report: reused result %s: %w", code, err)
			}
			o := Owner{Procedure: m.ProcedureCode}
			if in := byKey[m.InputKey]; in != nil {
				o.Office = in.Office
				if in.Procedure != "" {
					o.Procedure = in.Procedure
				}
			}
			out[code] = o
		}
	}
	return out, nil
}

// LoadReuses reads the month's reuse records from the audit chain: allowed
// requests of another system (a client, no staff account) that returned
// results, revocations aside.
func LoadReuses(ctx context.Context, st audit.Reader, m Month) ([]Reuse, error) {
	var out []Reuse
	err := audit.Scan(ctx, st, func(_ string, recs []audit.Record) error {
		for _, r := range recs {
			if !IsReuse(r) || !m.Contains(r.Time) {
				continue
			}
			u := Reuse{At: r.Time, Client: r.ClientID, Endpoint: r.Endpoint}
			for _, ret := range r.Returned {
				u.Results = append(u.Results, ret.ResultCode)
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: read the audit log: %w", err)
	}
	return out, nil
}

// webClient is the ClientID the staff web app's records carry.
const webClient = "web"

// IsReuse reports whether an audit record is a reuse of results by another
// system: a request (not a chain event) of a reuse-API client, allowed,
// that returned at least one result, and not a revocation.
func IsReuse(r audit.Record) bool {
	return r.Event == "" && r.Decision == audit.Allow && r.Staff == "" && r.ClientID != "" && r.ClientID != webClient &&
		r.AuthMethod != "session" && len(r.Returned) > 0 && !strings.Contains(r.Endpoint, "/revoke")
}

type loader struct {
	repo *storage.Repository
	opts LoadOptions
	mu   sync.Mutex
	keys map[string]bool
	// inputs counts the result lookups of each intake.
	inputs map[string]int
}

func (l *loader) list(ctx context.Context, prefix string) error {
	inputs := strings.TrimSuffix(storage.InputsPrefix("x"), "x/")
	if l.inputs == nil {
		l.inputs = map[string]int{}
	}
	err := l.repo.Bucket().List(ctx, prefix, func(o storage.ObjectInfo) error {
		if len(l.keys) >= l.opts.MaxObjects {
			return fmt.Errorf("%w: more than %d", ErrTooLarge, l.opts.MaxObjects)
		}
		l.keys[o.Key] = true
		if rest, ok := strings.CutPrefix(o.Key, inputs); ok {
			if i := strings.IndexByte(rest, '/'); i > 0 {
				l.inputs[rest[:i]]++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("report: list %s: %w", prefix, err)
	}
	return nil
}

func (l *loader) has(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys[key]
}

// each runs fn for 0..n-1 on the loader's workers.
func (l *loader) each(ctx context.Context, n int, fn func(context.Context, int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opts.Workers)
	for i := range n {
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}

func (l *loader) readMeta(ctx context.Context, key string, in *Intake) error {
	var meta storage.IntakeMeta
	if err := l.repo.GetSealedJSON(ctx, storage.IntakeMetaKey(key), &meta); err != nil {
		return fmt.Errorf("report: intake %s: %w", key, err)
	}
	*in = Intake{Key: key, Source: meta.Source, Office: meta.Office, Dossier: meta.DossierCode,
		Procedure: meta.ProcedureCode, Uploaded: meta.UploadedAt}
	if in.Source == "" {
		in.Source = storage.SourceCounter
	}
	if in.Dossier == "" {
		in.Dossier = "input:" + key
	}
	return nil
}

// readBackfill fills in a backfill intake from the listings alone (a
// backfill may hold years of papers: no object is read).
func (l *loader) readBackfill(in *Intake) error {
	in.Processed = l.has(storage.RecordKey(in.Key))
	in.Quarantined = l.has(storage.QuarantineKey(in.Key))
	in.Results = make([]Result, l.inputs[in.Key])
	return nil
}

// readDetail reads what became of one file of the month's dossiers.
func (l *loader) readDetail(ctx context.Context, in *Intake) error {
	repo, key := l.repo, in.Key
	in.Quarantined = l.has(storage.QuarantineKey(key))
	var rec pipeline.Record
	if l.has(storage.RecordKey(key)) {
		if err := repo.GetSealedJSON(ctx, storage.RecordKey(key), &rec); err != nil {
			return fmt.Errorf("report: record of %s: %w", key, err)
		}
		in.Processed = true
		for _, d := range rec.Decisions {
			in.Docs = append(in.Docs, Doc{Doc: d.Doc, Action: d.Action})
		}
	}
	doc := func(n int) *Doc {
		for i := range in.Docs {
			if in.Docs[i].Doc == n {
				return &in.Docs[i]
			}
		}
		in.Docs = append(in.Docs, Doc{Doc: n, Action: pipeline.ActionReview})
		return &in.Docs[len(in.Docs)-1]
	}
	// Review items: the OCR stage's, and the issue stage's one by one.
	items := []string{storage.ReviewKey(key)}
	for _, d := range rec.Decisions {
		items = append(items, storage.ReviewDocKey(key, d.Doc))
	}
	for _, k := range items {
		if !l.has(k) {
			continue
		}
		var item pipeline.ReviewItem
		if err := repo.GetSealedJSON(ctx, k, &item); err != nil {
			return fmt.Errorf("report: review item of %s: %w", key, err)
		}
		for _, dd := range item.Documents {
			d := doc(dd.Doc)
			if !d.Review || item.CreatedAt.Before(d.ReviewSince) {
				d.ReviewSince = item.CreatedAt
			}
			d.Review = true
		}
	}
	for i := range in.Docs {
		d := &in.Docs[i]
		if !d.Review || !l.has(storage.ApprovalKey(key, d.Doc)) {
			continue
		}
		var a pipeline.Approval
		if err := repo.GetSealedJSON(ctx, storage.ApprovalKey(key, d.Doc), &a); err != nil {
			return fmt.Errorf("report: decision on %s: %w", key, err)
		}
		d.Decided, d.Approved = true, a.Approved
	}
	slices.SortFunc(in.Docs, func(a, b Doc) int { return a.Doc - b.Doc })
	if l.inputs[key] > 0 {
		ms, err := repo.ByInputKey(ctx, key)
		if err != nil {
			return fmt.Errorf("report: results of %s: %w", key, err)
		}
		for _, m := range ms {
			in.Results = append(in.Results, Result{Code: m.ResultCode, Procedure: m.ProcedureCode, Origin: m.Origin, Filed: m.CreatedAt})
		}
	}
	if in.Procedure == "" {
		in.Procedure = rec.Intake.ProcedureCode
	}
	for _, r := range in.Results {
		if in.Procedure == "" {
			in.Procedure = r.Procedure
		}
	}
	for i, d := range rec.Result.Documents {
		if in.Procedure == "" && i < len(rec.Decisions) && rec.Decisions[i].Action != pipeline.ActionKeep {
			in.Procedure = l.opts.Procedures[d.DocType]
		}
	}
	return nil
}
