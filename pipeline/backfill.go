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
// resumably: a checkpoint records the last submitted name, so a restart
// continues after it. Submissions are idempotent, so the few files between
// the last checkpoint and a crash are simply "already queued" the second time.
type Backfill struct {
	Intake *Intake
	// CheckpointDir holds one checkpoint file per source.
	CheckpointDir string
	// Every is how many files pass between checkpoint writes.
	Every int
	// Backlog, when set, returns the backfill queue's pending size; Backfill
	// waits while it exceeds MaxBacklog so an archive never floods Redis.
	Backlog    func(ctx context.Context) (int, error)
	MaxBacklog int
	Log        *slog.Logger
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

// BackfillReport summarises one run.
type BackfillReport struct {
	Checkpoint
	Skipped int `json:"skipped"` // before the checkpoint, from an earlier run
	Queued  int `json:"queued"`  // this run
}

// Run backfills src.
func (b *Backfill) Run(ctx context.Context, src Source) (BackfillReport, error) {
	log := b.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	every := b.Every
	if every <= 0 {
		every = 20
	}
	cpPath := filepath.Join(b.CheckpointDir, checkpointName(src.ID()))
	cp, err := loadCheckpoint(cpPath)
	if err != nil {
		return BackfillReport{}, err
	}
	cp.Source = src.ID()
	rep := BackfillReport{}
	since := 0
	walkErr := src.Walk(ctx, func(name string) error {
		if cp.Last != "" && name <= cp.Last {
			rep.Skipped++
			return nil
		}
		if err := b.wait(ctx); err != nil {
			return err
		}
		data, err := src.Read(ctx, name)
		if err != nil {
			// An unreadable archive file is reported, never fatal to the batch.
			log.Warn("backfill: cannot read file", "file", name, "err", err)
			cp.Failed = append(cp.Failed, name)
		} else {
			sub, err := b.Intake.Submit(ctx, data, storage.IntakeMeta{Name: name, Source: SourceBackfill, BatchID: "backfill"})
			if err != nil {
				return fmt.Errorf("backfill %s: %w", name, err)
			}
			if sub.Status == StatusQueued {
				rep.Queued++
			}
			cp.Submitted++
		}
		cp.Last = name
		if since++; since >= every {
			since = 0
			return saveCheckpoint(cpPath, cp)
		}
		return nil
	})
	if walkErr != nil {
		if err := saveCheckpoint(cpPath, cp); err != nil {
			log.Error("backfill: checkpoint not saved", "err", err)
		}
		rep.Checkpoint = cp
		return rep, walkErr
	}
	cp.Done = true
	if err := saveCheckpoint(cpPath, cp); err != nil {
		return rep, err
	}
	rep.Checkpoint = cp
	return rep, nil
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
	return "backfill-" + hex.EncodeToString(s[:8]) + ".json"
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
	if cp.Done {
		// A finished source is walked again from the start: new files may
		// have arrived, and known ones are cheap "already queued" answers.
		cp = Checkpoint{}
	}
	return cp, nil
}

// saveCheckpoint writes atomically (temp file + rename).
func saveCheckpoint(path string, cp Checkpoint) error {
	cp.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("checkpoint dir: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}
