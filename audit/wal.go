package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sohoa/storage"
)

// The write-ahead log on disk: WALDir/{writer}/ holds a lock file, flocked
// by the running writer, and one segment per batch not yet stored,
// {first:016d}.wal, one JSON record per line.
const (
	walSuffix    = ".wal"
	lockName     = "lock"
	newDirPrefix = ".new-" // a writer's folder before it is locked and named
)

// errLocked: a live process holds the lock.
var errLocked = errors.New("audit: WAL folder in use")

// lockFile opens (creating) path and takes an exclusive flock on it without
// waiting: errLocked when a live process holds it, os.ErrNotExist when the
// holder removed it meanwhile. The kernel drops the lock when the process
// dies, however it dies.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("audit: lock %s: %w", path, err)
	}
	fi, err1 := f.Stat()
	pi, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(fi, pi) {
		f.Close()
		return nil, os.ErrNotExist
	}
	return f, nil
}

// newWriterDir creates and locks WALDir/{writer}. The folder is locked
// before it gets its name, so no other process ever sees it unlocked.
func newWriterDir(parent, writer string) (string, *os.File, error) {
	tmp, err := os.MkdirTemp(parent, newDirPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("audit: create WAL folder: %w", err)
	}
	lock, err := lockFile(filepath.Join(tmp, lockName))
	if err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	dir := filepath.Join(parent, writer)
	if err := os.Rename(tmp, dir); err != nil {
		lock.Close()
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("audit: name WAL folder: %w", err)
	}
	return dir, lock, nil
}

// held is a replayed WAL source, locked until its records are safe
// elsewhere.
type held struct {
	lock *os.File
	path string
}

// replayDead stores what dead writers left in WALDir in their own chains
// and closes those chains. It returns the requests that cannot go to their
// own chain (a conflicting stored batch, or segments of the single-chain
// WAL of earlier versions), to be re-chained by the caller, and a cleanup
// that releases the replayed sources, removing them when remove is true:
// only once those requests are durable elsewhere. On error every source is
// left for the next try.
func (l *Log) replayDead(ctx context.Context) ([]Record, func(remove bool), error) {
	entries, err := os.ReadDir(l.opts.WALDir)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: list WAL dir: %w", err)
	}
	var (
		orphans []Record
		hs      []held
	)
	release := func(remove bool) {
		for _, h := range hs {
			if remove {
				if err := os.RemoveAll(h.path); err != nil {
					l.opts.Logger.Error("audit: remove replayed WAL", "err", err)
				}
			}
			h.lock.Close()
		}
	}
	take := func(path, lockPath string) (*os.File, bool, error) {
		f, err := lockFile(lockPath)
		if errors.Is(err, errLocked) || errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		hs = append(hs, held{f, path})
		return f, true, nil
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(l.opts.WALDir, name)
		var err error
		switch {
		case name == l.writer:
		case e.IsDir() && storage.ValidAuditWriter(name):
			var ok bool
			if _, ok, err = take(path, filepath.Join(path, lockName)); ok {
				var recs []Record
				recs, err = l.replayWriter(ctx, path, name)
				orphans = append(orphans, recs...)
			}
		case e.IsDir() && strings.HasPrefix(name, newDirPrefix):
			// A writer killed before naming its folder wrote no record
			// there; give one that is starting now time to name it.
			if fi, ierr := e.Info(); ierr == nil && time.Since(fi.ModTime()) > time.Minute {
				_, _, err = take(path, filepath.Join(path, lockName))
			}
		case !e.IsDir() && strings.HasSuffix(name, walSuffix):
			// A segment of the single-chain WAL of earlier versions: its
			// chain no longer exists, so its requests join this one.
			var ok bool
			if _, ok, err = take(path, path); ok {
				var s *segment
				if s, err = readSegment(path, l.opts.Logger); err == nil {
					orphans = append(orphans, requestsOf(s)...)
				}
			}
		}
		if err != nil {
			release(false)
			return nil, nil, err
		}
	}
	if len(hs) > 0 {
		l.opts.Logger.Warn("audit: replayed write-ahead logs of dead writers", "sources", len(hs), "records_rechained", len(orphans))
	}
	return orphans, release, nil
}

// replayWriter stores the segments a dead writer left in dir in its chain,
// in order, and closes the chain. From the first segment that cannot be
// stored as is, the requests are returned to be re-chained.
func (l *Log) replayWriter(ctx context.Context, dir, writer string) ([]Record, error) {
	segs, err := readWAL(dir, l.opts.Logger)
	if err != nil {
		return nil, err
	}
	var tail *Record
	for i, s := range segs {
		recs, err := recordsOf(s)
		switch {
		case err != nil:
			err = fmt.Errorf("%w: %w", err, ErrConflict)
		case slices.ContainsFunc(recs, func(r Record) bool { return r.Writer != writer }):
			err = fmt.Errorf("audit: WAL segment %s holds records of another writer: %w", s.walPath, ErrConflict)
		}
		if err == nil {
			err = putBatch(ctx, l.opts.Store, storage.AuditKey(writer, s.first, len(s.lines)), bytes.Join(s.lines, nil))
		}
		if errors.Is(err, ErrConflict) {
			l.opts.Logger.Error("audit: a dead writer's batch cannot be stored in its chain; re-chaining its requests",
				"writer", writer, "first", s.first, "err", err)
			var orphans []Record
			for _, s := range segs[i:] {
				orphans = append(orphans, requestsOf(s)...)
			}
			return orphans, nil
		}
		if err != nil {
			return nil, err
		}
		tail = &recs[len(recs)-1]
	}
	if tail == nil {
		tail, err = chainTail(ctx, l.opts.Store, writer)
		var perr *parseError
		if errors.As(err, &perr) || errors.Is(err, storage.ErrCorrupt) {
			l.opts.Logger.Error("audit: a dead writer's chain has an unreadable tail; left unclosed", "writer", writer, "err", err)
			return nil, nil
		}
		if err != nil || tail == nil {
			return nil, err
		}
	}
	if tail.Event == EventClose {
		return nil, nil
	}
	return nil, l.closeChain(ctx, writer, *tail)
}

// closeChain appends a close record (Rule "replayed") after tail, the
// last record of a dead writer's chain, as a batch of its own.
func (l *Log) closeChain(ctx context.Context, writer string, tail Record) error {
	r := Record{Writer: writer, Seq: tail.Seq + 1, Event: EventClose, Rule: "replayed",
		Time: l.opts.Now().UTC(), PrevHash: tail.Hash}
	h, err := r.computeHash()
	if err != nil {
		return err
	}
	r.Hash = h
	line, err := jsonLine(r)
	if err != nil {
		return err
	}
	key := storage.AuditKey(writer, r.Seq, 1)
	err = putBatch(ctx, l.opts.Store, key, line)
	if errors.Is(err, ErrConflict) {
		// A replay that died before removing the folder closed it already?
		if prev, gerr := lastOf(ctx, l.opts.Store, key); gerr == nil && prev.Event == EventClose && prev.Seq == r.Seq && prev.PrevHash == tail.Hash {
			return nil
		}
		l.opts.Logger.Error("audit: cannot close a dead writer's chain: a record after its tail is stored", "writer", writer, "seq", r.Seq)
		return nil
	}
	return err
}

// readWAL loads every segment in dir, in chain order. A torn last line (a
// process killed mid-write, before Append returned) is dropped.
func readWAL(dir string, log *slog.Logger) ([]*segment, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"+walSuffix))
	if err != nil {
		return nil, fmt.Errorf("audit: list WAL: %w", err)
	}
	sort.Strings(names)
	var segs []*segment
	for _, name := range names {
		s, err := readSegment(name, log)
		if err != nil {
			return nil, err
		}
		if len(s.lines) > 0 {
			segs = append(segs, s)
		}
	}
	return segs, nil
}

// readSegment loads one WAL segment.
func readSegment(path string, log *slog.Logger) (*segment, error) {
	first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), walSuffix), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("audit: WAL segment name %q: %w", filepath.Base(path), err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read WAL: %w", err)
	}
	s := &segment{first: first, walPath: path}
	for _, line := range bytes.SplitAfter(b, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var r Record
		if line[len(line)-1] != '\n' || json.Unmarshal(line, &r) != nil {
			log.Warn("audit: dropping torn WAL line", "segment", filepath.Base(path))
			continue
		}
		s.lines = append(s.lines, line)
	}
	return s, nil
}

// recordsOf decodes a segment's lines (at least one).
func recordsOf(s *segment) ([]Record, error) {
	recs, err := parseBatch(bytes.Join(s.lines, nil))
	if err == nil && len(recs) == 0 {
		err = errOr(nil, "empty segment")
	}
	if err != nil {
		return nil, fmt.Errorf("audit: WAL segment %s: %w", s.walPath, err)
	}
	return recs, nil
}

// requestsOf returns a segment's requests (its events belong to the chain
// it was written for), leniently: each line that decodes is kept.
func requestsOf(s *segment) []Record {
	var recs []Record
	for _, line := range s.lines {
		var r Record
		if json.Unmarshal(line, &r) == nil && r.Event == "" {
			recs = append(recs, r)
		}
	}
	return recs
}
