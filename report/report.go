// Package report computes the figures Decision 1565/QĐ-TTg asks agencies
// to report monthly — dossiers received and digitised, results issued
// electronically, documents waiting for review and their age, quarantined
// files, the time from intake to issue, reuse of results by other
// systems, backfill progress — per office and per procedure.
//
// Every figure is computed from what the repository holds (intake
// metadata, OCR records, review items and decisions, quarantine records,
// result manifests, the audit chain), never from counters kept elsewhere:
// Load reads a Snapshot, and Compute is a pure function of it.
//
// Definitions (a month is a calendar month in Vietnam time):
//   - The month's dossiers are the dossiers (dossier codes) whose first
//     counter upload (source counter: the one-stop office or a script, not
//     backfill) was in the month. Every other figure of the month but
//     reuse is about the files of those dossiers, so a month's report
//     grows as its dossiers are processed and its rates never exceed 100 %.
//   - A file is digitised when its OCR record is stored and it is not
//     quarantined; a dossier is digitised when all its files are.
//   - A result document is a document the pipeline read as a result to
//     issue (action issue or review; an application form is a dossier
//     component, kept, not issued). An e-result is a filed result manifest.
//   - A document is in review while it was sent to review and has no
//     decision; its age is from the review item's creation to now.
//   - Time to issue is from the upload (IntakeMeta.UploadedAt) to the
//     filing of the result (Manifest.CreatedAt).
//   - A reuse is one result returned to another system by an allowed
//     request of the reuse API in the month (an audit record with a client,
//     no staff account, not a revocation); requests count the records.
//   - Median: the middle value (the mean of the two middle values for an
//     even count); 90th percentile: nearest rank, the value at rank ⌈0.9·n⌉.
package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"sohoa/storage"
)

// Month is a calendar month in Vietnam time.
type Month struct {
	Year  int
	Month time.Month
}

// MonthOf is the month of t in Vietnam.
func MonthOf(t time.Time) Month {
	v := t.In(storage.Vietnam())
	return Month{v.Year(), v.Month()}
}

// ParseMonth reads "2006-01".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return Month{}, fmt.Errorf("month %q: want YYYY-MM: %w", s, storage.ErrInvalid)
	}
	return Month{t.Year(), t.Month()}, nil
}

// Start is 00:00 of the month's first day in Vietnam.
func (m Month) Start() time.Time { return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, storage.Vietnam()) }

// End is the start of the next month.
func (m Month) End() time.Time { return m.Start().AddDate(0, 1, 0) }

// Contains reports whether t lies in the month.
func (m Month) Contains(t time.Time) bool { return !t.Before(m.Start()) && t.Before(m.End()) }

// Prev and Next are the neighbouring months.
func (m Month) Prev() Month { return MonthOf(m.Start().AddDate(0, -1, 0)) }
func (m Month) Next() Month { return MonthOf(m.End()) }

func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Label is the month in Vietnamese: "tháng 03/2026".
func (m Month) Label() string { return fmt.Sprintf("tháng %02d/%04d", int(m.Month), m.Year) }

// Snapshot is what the repository holds, as Load reads it for one month:
// every intake with its metadata, the month's counter intakes and every
// backfill intake with what became of them, and the month's reuse records.
type Snapshot struct {
	Month   Month
	Intakes []Intake
	Reuses  []Reuse
	// Owners names the office and procedure of reused results that are
	// not among the month's dossiers (older results, backfill).
	Owners map[string]Owner
	// Kho is the state of the outbox to the citizen's data store, now.
	Kho KhoSync
}

// KhoSync counts the outbox events to the citizen's data store (Kho) by
// delivery state, over the whole repository (not the month): pending
// events wait for delivery (or for SOHOA_KHO_URL), dead ones were given up
// after the dead-letter age and need a person.
type KhoSync struct {
	Results, Events, Delivered, Pending, Dead int
}

// Owner is the group a result belongs to.
type Owner struct {
	Office, Procedure string
}

// Intake is one uploaded file.
type Intake struct {
	Key       string
	Source    string // storage.SourceCounter or storage.SourceBackfill
	Office    string // "" for script and backfill uploads
	Dossier   string
	Procedure string // the procedure code, "" when nothing names one
	Uploaded  time.Time
	// Processed: the OCR record is stored.
	Processed   bool
	Quarantined bool
	Docs        []Doc
	Results     []Result
}

// Doc is one document the OCR stage found in a file.
type Doc struct {
	Doc    int
	Action string // pipeline.ActionIssue, ActionReview, ActionKeep
	// Review: the document was sent to review (by the OCR stage or later
	// by the issue stage), since ReviewSince.
	Review      bool
	ReviewSince time.Time
	// Decided: a reviewer decided; Approved says how.
	Decided  bool
	Approved bool
}

// Result is one result filed from a file.
type Result struct {
	Code      string
	Procedure string
	Origin    string
	Filed     time.Time
}

// Reuse is one reuse-API request that returned results.
type Reuse struct {
	At       time.Time
	Client   string
	Endpoint string
	Results  []string // result codes
}

// Figures are the counts of one group (all, an office, a procedure).
type Figures struct {
	Received       int // dossiers
	Digitized      int // dossiers all of whose files are digitised
	Files          int
	FilesDigitized int
	ResultDocs     int // result documents found
	Issued         int // e-results filed
	InReview       int // documents waiting for a reviewer now
	Rejected       int // result documents a reviewer rejected
	Quarantined    int // files
	ReviewOldest   time.Duration
	ReviewMedian   time.Duration
	IssueTimes     int // results with a time to issue
	IssueMedian    time.Duration
	IssueP90       time.Duration
	Reuses         int // results returned to other systems
	ReuseRequests  int

	reviewAges []time.Duration
	issueTimes []time.Duration
}

// DigitizedRate is the share of dossiers digitised (ok false: none).
func (f Figures) DigitizedRate() (float64, bool) { return rate(f.Digitized, f.Received) }

// IssuedRate is the share of result documents issued as e-results.
func (f Figures) IssuedRate() (float64, bool) { return rate(f.Issued, f.ResultDocs) }

func rate(n, of int) (float64, bool) {
	if of == 0 {
		return 0, false
	}
	return float64(n) / float64(of), true
}

// Row is one group of a table.
type Row struct {
	Key   string // office or procedure code, "" when none
	Label string
	Figures
}

// ClientRow counts the reuses of one other system.
type ClientRow struct {
	Client   string
	Requests int
	Results  int
}

// Backfill is the progress of digitising old papers: every backfill
// intake so far, and those stored in the month.
type Backfill struct {
	Stored      int
	Processed   int // OCR done or quarantined
	Quarantined int
	Issued      int // results filed
	StoredMonth int
}

// Pending is what the backfill has still to process.
func (b Backfill) Pending() int { return b.Stored - b.Processed }

// ProcessedRate is the share of stored backfill files processed.
func (b Backfill) ProcessedRate() (float64, bool) { return rate(b.Processed, b.Stored) }

// Report is the month's figures.
type Report struct {
	Month      Month
	At         time.Time // the "now" ages are measured at
	Total      Figures
	Offices    []Row
	Procedures []Row
	Clients    []ClientRow
	Backfill   Backfill
	Kho        KhoSync
}

// Labels of groups without a code.
const (
	NoOffice    = "(không qua bộ phận một cửa)"
	NoProcedure = "(chưa xác định thủ tục)"
)

// dossier is one of the month's dossiers with its files.
type dossier struct {
	office, procedure string
	files             []*Intake
}

// Compute computes the report of s.Month at now. It is a pure function of
// its arguments.
func Compute(s Snapshot, now time.Time) Report {
	rep := Report{Month: s.Month, At: now, Kho: s.Kho}
	// Dossiers: the first counter upload decides the month.
	byCode := map[string]*dossier{}
	first := map[string]time.Time{}
	var codes []string
	for i := range s.Intakes {
		in := &s.Intakes[i]
		if in.Source == storage.SourceBackfill {
			continue
		}
		code := in.Dossier
		if code == "" {
			code = "input:" + in.Key
		}
		d := byCode[code]
		if d == nil {
			d = &dossier{}
			byCode[code] = d
			codes = append(codes, code)
		}
		d.files = append(d.files, in)
		if t, ok := first[code]; !ok || in.Uploaded.Before(t) {
			first[code] = in.Uploaded
		}
	}
	slices.Sort(codes)
	offices, procedures := map[string]*Row{}, map[string]*Row{}
	resultGroup := map[string][2]string{} // result code → office, procedure
	for _, code := range codes {
		d := byCode[code]
		slices.SortFunc(d.files, func(a, b *Intake) int { return a.Uploaded.Compare(b.Uploaded) })
		d.office = d.files[0].Office
		for _, f := range d.files {
			if d.procedure == "" {
				d.procedure = f.Procedure
			}
			for _, r := range f.Results {
				if d.procedure == "" {
					d.procedure = r.Procedure
				}
			}
		}
		for _, f := range d.files {
			for _, r := range f.Results {
				resultGroup[r.Code] = [2]string{d.office, d.procedure}
			}
		}
		if !s.Month.Contains(first[code]) {
			continue
		}
		o := group(offices, d.office, NoOffice)
		p := group(procedures, d.procedure, NoProcedure)
		for _, f := range []*Figures{&rep.Total, &o.Figures, &p.Figures} {
			f.addDossier(d, now)
		}
	}
	for code, o := range s.Owners {
		if _, ok := resultGroup[code]; !ok {
			resultGroup[code] = [2]string{o.Office, o.Procedure}
		}
	}
	// Reuse in the month, by the group of the result's dossier.
	clients := map[string]*ClientRow{}
	for _, u := range s.Reuses {
		if !s.Month.Contains(u.At) || len(u.Results) == 0 {
			continue
		}
		c := clients[u.Client]
		if c == nil {
			c = &ClientRow{Client: u.Client}
			clients[u.Client] = c
		}
		c.Requests++
		c.Results += len(u.Results)
		rep.Total.ReuseRequests++
		rep.Total.Reuses += len(u.Results)
		seenO, seenP := map[string]bool{}, map[string]bool{}
		for _, code := range u.Results {
			g := resultGroup[code]
			o, p := group(offices, g[0], NoOffice), group(procedures, g[1], NoProcedure)
			o.Reuses++
			p.Reuses++
			if !seenO[g[0]] {
				seenO[g[0]] = true
				o.ReuseRequests++
			}
			if !seenP[g[1]] {
				seenP[g[1]] = true
				p.ReuseRequests++
			}
		}
	}
	// Backfill: all of it, and the month's uploads.
	for _, in := range s.Intakes {
		if in.Source != storage.SourceBackfill {
			continue
		}
		b := &rep.Backfill
		b.Stored++
		if in.Processed || in.Quarantined {
			b.Processed++
		}
		if in.Quarantined {
			b.Quarantined++
		}
		b.Issued += len(in.Results)
		if s.Month.Contains(in.Uploaded) {
			b.StoredMonth++
		}
	}
	rep.Total.finish()
	rep.Offices = rows(offices)
	rep.Procedures = rows(procedures)
	for _, c := range clients {
		rep.Clients = append(rep.Clients, *c)
	}
	slices.SortFunc(rep.Clients, func(a, b ClientRow) int { return strings.Compare(a.Client, b.Client) })
	return rep
}

func group(m map[string]*Row, key, none string) *Row {
	r := m[key]
	if r == nil {
		r = &Row{Key: key, Label: key}
		if key == "" {
			r.Label = none
		}
		m[key] = r
	}
	return r
}

// rows sorts a table: groups with a code by code, the one without last.
func rows(m map[string]*Row) []Row {
	out := make([]Row, 0, len(m))
	for _, r := range m {
		r.finish()
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Row) int {
		switch {
		case a.Key == "" && b.Key != "":
			return 1
		case b.Key == "" && a.Key != "":
			return -1
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// addDossier counts one dossier and its files.
func (f *Figures) addDossier(d *dossier, now time.Time) {
	f.Received++
	all := true
	for _, in := range d.files {
		f.Files++
		digitized := in.Processed && !in.Quarantined
		if digitized {
			f.FilesDigitized++
		} else {
			all = false
		}
		if in.Quarantined {
			f.Quarantined++
		}
		for _, doc := range in.Docs {
			if doc.Action == "issue" || doc.Action == "review" || doc.Review {
				f.ResultDocs++
			}
			switch {
			case doc.Review && !doc.Decided && !in.Quarantined:
				f.InReview++
				f.reviewAges = append(f.reviewAges, max(now.Sub(doc.ReviewSince), 0))
			case doc.Review && doc.Decided && !doc.Approved:
				f.Rejected++
			}
		}
		for _, r := range in.Results {
			f.Issued++
			f.issueTimes = append(f.issueTimes, max(r.Filed.Sub(in.Uploaded), 0))
		}
	}
	if all {
		f.Digitized++
	}
}

// finish computes the medians and percentiles.
func (f *Figures) finish() {
	if n := len(f.reviewAges); n > 0 {
		slices.Sort(f.reviewAges)
		f.ReviewOldest = f.reviewAges[n-1]
		f.ReviewMedian = Median(f.reviewAges)
	}
	f.IssueTimes = len(f.issueTimes)
	f.IssueMedian = Median(f.issueTimes)
	f.IssueP90 = Percentile(f.issueTimes, 0.9)
}

// Median is the middle of ds (the mean of the two middle values for an
// even count); 0 for none. ds need not be sorted.
func Median(ds []time.Duration) time.Duration {
	n := len(ds)
	if n == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1] + (s[n/2]-s[n/2-1])/2
}

// Percentile is the nearest-rank p-quantile of ds (0 < p ≤ 1): the value
// at rank ⌈p·n⌉ of the sorted values; 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	n := len(ds)
	if n == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	k := int(math.Ceil(p*float64(n)-1e-9)) - 1 // 0.9·10 is 9, not 9.000…1
	return s[min(max(k, 0), n-1)]
}
