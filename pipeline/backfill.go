package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sohoa/storage"
)

// Source is an archive to backfill: a folder or an S3 prefix.
type Source interface {
	// ID names the source stably (it keys the checkpoint).
	ID() string
	// Walk calls fn for every candidate file name in lexical order.
	Walk(ctx context.Context, fn func(name string) error) error
	Read(ctx context.Context, name string) ([]byte, error)
}

// DirSource walks a folder. Names are slash-separated paths relative to Root.
type DirSource struct {
	Root string
	// Exts are the file extensions considered scans (lower case, with dot).
	Exts []string
	// MaxBytes skips (and reports) larger files instead of reading them.
	MaxBytes int64
}

// ScanExts are the extensions a backfill considers by default. The content
// decides the real format; this only keeps READMEs and truth files out.
var ScanExts = []string{".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf"}

// ID implements Source.
func (d DirSource) ID() string {
	abs, err := filepath.Abs(d.Root)
	if err != nil {
		abs = d.Root
	}
	return "dir:" + abs
}

// Walk implements Source.
func (d DirSource) Walk(ctx context.Context, fn func(string) error) error {
	exts := d.Exts
	if exts == nil {
		exts = ScanExts
	}
	return filepath.WalkDir(d.Root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.IsDir() {
			if path != d.Root && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || !slices.Contains(exts, strings.ToLower(filepath.Ext(path))) {
			return nil
		}
		rel, err := filepath.Rel(d.Root, path)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel))
	})
}

// Read implements Source.
func (d DirSource) Read(_ context.Context, name string) ([]byte, error) {
	p := filepath.Join(d.Root, filepath.FromSlash(name))
	if d.MaxBytes > 0 {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if st.Size() > d.MaxBytes {
			return nil, fmt.Errorf("%s: %d bytes exceeds the %d-byte limit", name, st.Size(), d.MaxBytes)
		}
	}
	return os.ReadFile(p)
}

// Backfill walks a Source and submits every file to the low-priority queue,
// resumably. Each file is one line of an append-only journal, written
// before (begin) and after (done) its submission, so a restart continues
// after the last file done, and a file caught between the two by a crash is
// known to be this backfill's own. Submissions are idempotent: a file
// submitted twice is stored and queued once.
type Backfill struct {
	Intake *Intake
	// CheckpointDir holds one checkpoint and one journal per source.
	CheckpointDir string
	// Every is how many files pass between rewrites of the checkpoint
	// summary (the journal has every file); default 20.
	Every int
	// Backlog, when set, returns the backfill queue's pending size; Backfill
	// waits while it exceeds MaxBacklog so an archive never floods Redis.
	Backlog    func(ctx context.Context) (int, error)
	MaxBacklog int
	Log        *slog.Logger
	// Now is the clock of checkpoints; default time.Now.
	Now func() time.Time
	// Progress, when set, is called after every file (from the walking
	// goroutine), and once with Total before the first file.
	Progress func(BackfillProgress)
}

// BackfillProgress is where a run is: Done of Total files of the source
// (Total is counted before the run starts), Bytes read this run.
type BackfillProgress struct {
	Done, Total int
	Bytes       int64
}

// Checkpoint is the resumable state of one backfill.
type Checkpoint struct {
	Source    string    `json:"source"`
	Last      string    `json:"last"`
	Submitted int       `json:"submitted"`
	Failed    []string  `json:"failed,omitempty"`
	Done      bool      `json:"done"`
	UpdatedAt time.Time `json:"updated_at"`
}

// BackfillReport summarises one pass over a source, across the runs that
// resumed it: the same files give the same report whether the pass was
// interrupted or not.
type BackfillReport struct {
	Checkpoint
	Skipped int `json:"skipped"` // before the checkpoint, done by an earlier run of this pass
	Queued  int `json:"queued"`  // stored and queued by this pass
	// Duplicates are files whose bytes were already stored (an earlier file
	// of the archive, or an earlier upload): nothing new to do.
	Duplicates int `json:"duplicates"`
	// Refused counts files refused at the door, by reason (Refused*).
	Refused map[string]int `json:"refused,omitempty"`
	// Unreadable counts files the source could not read (Failed names them).
	Unreadable int `json:"unreadable"`
	// Outcomes, with Await: where the pass's inputs ended.
	Outcomes *BackfillOutcomes `json:"outcomes,omitempty"`
}

// journalEntry is one line of a backfill journal.
type journalEntry struct {
	Op       string `json:"op"` // begin | done
	Name     string `json:"name"`
	InputKey string `json:"input_key,omitempty"`
	Status   string `json:"status,omitempty"` // a Submission status, or "unreadable"
	Reason   string `json:"reason,omitempty"`
}

// CountFiles walks src for the number of files a run will consider.
func CountFiles(ctx context.Context, src Source) (int, error) {
	n := 0
	err := src.Walk(ctx, func(string) error { n++; return nil })
	return n, err
}

// Run backfills src.
func (b *Backfill) Run(ctx context.Context, src Source) (BackfillReport, error) {
	log := b.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := b.Now
	if now == nil {
		now = time.Now
	}
	every := b.Every
	if every <= 0 {
		every = 20
	}
	name := checkpointName(src.ID())
	cpPath := filepath.Join(b.CheckpointDir, name+".json")
	jPath := filepath.Join(b.CheckpointDir, name+".journal")
	cp, err := loadCheckpoint(cpPath)
	if err != nil {
		return BackfillReport{}, err
	}
	if cp.Done {
		// A finished source is walked again from the start, as a new pass:
		// new files may have arrived, and known ones are cheap duplicates.
		cp = Checkpoint{}
		if err := os.Remove(jPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return BackfillReport{}, fmt.Errorf("backfill: new pass: %w", err)
		}
	}
	cp.Source = src.ID()
	entries, err := readJournal(jPath)
	if err != nil {
		return BackfillReport{}, err
	}
	// The journal is the truth: the checkpoint summary may lag it.
	inflight := map[string]bool{} // begun, never done: this pass's own
	done := map[string]bool{}
	for _, e := range entries {
		switch e.Op {
		case "begin":
			inflight[e.Name] = true
		case "done":
			delete(inflight, e.Name)
			done[e.Name] = true
			if e.Name > cp.Last {
				cp.Last = e.Name
			}
		}
	}
	journal, err := openJournal(jPath)
	if err != nil {
		return BackfillReport{}, err
	}
	defer journal.Close()
	save := func() error {
		cp.UpdatedAt = now().UTC()
		return saveCheckpoint(cpPath, cp)
	}

	prog := BackfillProgress{}
	if b.Progress != nil {
		if prog.Total, err = CountFiles(ctx, src); err != nil {
			return BackfillReport{}, fmt.Errorf("backfill: count files: %w", err)
		}
		b.Progress(prog)
	}
	since, skipped := 0, 0
	walkErr := src.Walk(ctx, func(name string) error {
		if done[name] || cp.Last != "" && name <= cp.Last {
			skipped++
			prog.Done++
			if b.Progress != nil {
				b.Progress(prog)
			}
			return nil
		}
		if err := b.wait(ctx); err != nil {
			return err
		}
		if err := journal.add(journalEntry{Op: "begin", Name: name}); err != nil {
			return err
		}
		e := journalEntry{Op: "done", Name: name}
		data, err := src.Read(ctx, name)
		if err != nil {
			// An unreadable archive file is reported, never fatal to the batch.
			log.Warn("backfill: cannot read file", "err", err)
			e.Status = "unreadable"
			cp.Failed = append(cp.Failed, name)
		} else {
			prog.Bytes += int64(len(data))
			sub, err := b.Intake.Submit(ctx, data, storage.IntakeMeta{Name: name, Source: SourceBackfill, BatchID: "backfill"})
			if err != nil {
				return fmt.Errorf("backfill %s: %w", name, err)
			}
			e.InputKey, e.Status, e.Reason = sub.InputKey, sub.Status, sub.Reason
			if sub.Status == StatusAlreadyQueued && inflight[name] {
				// Submitted by this pass just before a crash.
				e.Status = StatusQueued
			}
			cp.Submitted++
		}
		if err := journal.add(e); err != nil {
			return err
		}
		entries = append(entries, e)
		cp.Last = name
		prog.Done++
		if b.Progress != nil {
			b.Progress(prog)
		}
		if since++; since >= every {
			since = 0
			return save()
		}
		return nil
	})
	if walkErr == nil {
		cp.Done = true
	}
	if err := save(); err != nil {
		if walkErr == nil {
			walkErr = err
		}
		log.Error("backfill: checkpoint not saved", "err", err)
	}
	rep := reportOf(cp, entries)
	rep.Skipped = skipped
	return rep, walkErr
}

// reportOf counts a pass from its journal: each file by its last outcome.
func reportOf(cp Checkpoint, entries []journalEntry) BackfillReport {
	rep := BackfillReport{Checkpoint: cp}
	last := map[string]journalEntry{}
	var order []string
	for _, e := range entries {
		if e.Op != "done" {
			continue
		}
		if _, seen := last[e.Name]; !seen {
			order = append(order, e.Name)
		}
		last[e.Name] = e
	}
	rep.Submitted = 0
	rep.Failed = nil
	for _, n := range order {
		e := last[n]
		switch e.Status {
		case "unreadable":
			rep.Unreadable++
			rep.Failed = append(rep.Failed, n)
			continue
		case StatusQueued:
			rep.Queued++
		case StatusAlreadyQueued:
			rep.Duplicates++
		default:
			if rep.Refused == nil {
				rep.Refused = map[string]int{}
			}
			rep.Refused[cmpOr(e.Reason, e.Status)]++
		}
		rep.Submitted++
	}
	return rep
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// InputKeys are the distinct inputs a pass stored, in journal order.
func (r BackfillReport) inputKeys(entries []journalEntry) []string {
	seen := map[string]bool{}
	var keys []string
	for _, e := range entries {
		if e.Op == "done" && e.InputKey != "" && !seen[e.InputKey] {
			seen[e.InputKey] = true
			keys = append(keys, e.InputKey)
		}
	}
	return keys
}

// BackfillOutcomes is where the inputs of a pass ended: counts by state
// (InputStatus.State) and, for review and quarantine, by reason code.
type BackfillOutcomes struct {
	Inputs  int            `json:"inputs"`
	States  map[string]int `json:"states"`
	Reasons map[string]int `json:"reasons,omitempty"`
	// Pending inputs were still processing when Await gave up.
	Pending int `json:"pending"`
}

// Await follows the inputs of the pass just run on src until each is in a
// final state (or ctx ends: the rest count as Pending), polling every
// poll, and returns where they ended.
func (b *Backfill) Await(ctx context.Context, src Source, poll time.Duration, progress func(final, total int)) (BackfillOutcomes, error) {
	entries, err := readJournal(filepath.Join(b.CheckpointDir, checkpointName(src.ID())+".journal"))
	if err != nil {
		return BackfillOutcomes{}, err
	}
	keys := BackfillReport{}.inputKeys(entries)
	out := BackfillOutcomes{Inputs: len(keys), States: map[string]int{}}
	final := map[string]InputStatus{}
	for {
		for _, k := range keys {
			if _, ok := final[k]; ok {
				continue
			}
			st, err := b.Intake.Status(ctx, k)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return out, fmt.Errorf("backfill: status of %s: %w", k, err)
			}
			if st.State != "processing" {
				final[k] = st
			}
		}
		if progress != nil {
			progress(len(final), len(keys))
		}
		if len(final) == len(keys) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
	for _, st := range final {
		out.States[st.State]++
		if st.Quarantine != nil {
			if out.Reasons == nil {
				out.Reasons = map[string]int{}
			}
			out.Reasons[st.Quarantine.Code]++
		}
		for _, d := range st.Review {
			for _, r := range d.Reasons {
				if out.Reasons == nil {
					out.Reasons = map[string]int{}
				}
				out.Reasons[r]++
			}
		}
	}
	out.Pending = len(keys) - len(final)
	return out, nil
}

func (b *Backfill) wait(ctx context.Context) error {
	if b.Backlog == nil || b.MaxBacklog <= 0 {
		return nil
	}
	for {
		n, err := b.Backlog(ctx)
		if err != nil || n < b.MaxBacklog {
			return nil // an unknown backlog never blocks the run
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func checkpointName(id string) string {
	s := sha256.Sum256([]byte(id))
	return "backfill-" + hex.EncodeToString(s[:8])
}

func loadCheckpoint(path string) (Checkpoint, error) {
	var cp Checkpoint
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cp, nil
	}
	if err != nil {
		return cp, fmt.Errorf("read checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &cp); err != nil {
		return cp, fmt.Errorf("parse checkpoint %s: %w", path, err)
	}
	return cp, nil
}

// saveCheckpoint writes atomically (temp file + rename).
func saveCheckpoint(path string, cp Checkpoint) error {
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("checkpoint dir: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// A journal is an append-only file of JSON lines; each line is one
// write(2), synced, so a killed run loses at most the line it was writing
// (a torn last line is ignored on reading).
type journalFile struct{ f *os.File }

func openJournal(path string) (*journalFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("backfill journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backfill journal: %w", err)
	}
	// End a line torn by a kill, so the next line stands alone.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, fmt.Errorf("backfill journal: %w", err)
			}
		}
	}
	return &journalFile{f: f}, nil
}

func (j *journalFile) add(e journalEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("backfill journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("backfill journal: %w", err)
	}
	return nil
}

func (j *journalFile) Close() error { return j.f.Close() }

func readJournal(path string) ([]journalEntry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backfill journal: %w", err)
	}
	var out []journalEntry
	for _, line := range strings.Split(string(b), "\n") {
		var e journalEntry
		if line == "" || json.Unmarshal([]byte(line), &e) != nil {
			continue // a torn last line
		}
		out = append(out, e)
	}
	return out, nil
}
