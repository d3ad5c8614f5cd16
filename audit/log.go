package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sohoa/storage"
)

// Store is what the audit log needs from object storage; storage.Bucket
// satisfies it. PutOnce must be create-once (the bucket is expected to apply
// its default object-lock retention to every new object).
type Store interface {
	PutOnce(ctx context.Context, key string, body []byte, sha256hex string) error
	Get(ctx context.Context, key string) ([]byte, storage.ObjectInfo, error)
	List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error
}

// Errors returned by Append.
var (
	ErrClosed  = errors.New("audit: log closed")
	ErrBacklog = errors.New("audit: too many records not yet stored")
)

// Batches are stored under storage.AuditKey(firstSeq): one JSON record per
// line, keys zero-padded so lexical order is chain order.
const batchSuffix = ".json"

// Options configure a Log. Zero values are useful except Store.
type Options struct {
	Store Store
	// WALDir holds one write-ahead segment per open batch. Every record is
	// written there (one write(2)) before Append returns, so a killed
	// process loses nothing; segments are replayed by Open and removed once
	// their batch is stored. Empty disables the WAL: a crash then loses at
	// most the unflushed batch.
	WALDir     string
	MaxBatch   int           // records per batch, default 500
	MaxDelay   time.Duration // age after which a batch is stored, default 2s
	MaxBacklog int           // unstored records before Append fails closed, default 100000
	Logger     *slog.Logger
	Now        func() time.Time
}

type segment struct {
	first   uint64
	lines   [][]byte
	opened  time.Time
	f       *os.File
	walPath string
}

// Log appends records and stores them in batches. It is safe for concurrent
// use. Close it on shutdown to store the last batch.
type Log struct {
	opts Options

	mu      sync.Mutex
	seq     uint64
	last    string
	cur     *segment
	sealed  []*segment
	backlog int
	closed  bool

	upMu sync.Mutex // serialises uploads so batches are stored in order
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Open recovers any write-ahead segments, finds the chain's tail in the
// store and starts the background flusher.
func Open(ctx context.Context, opts Options) (*Log, error) {
	if opts.Store == nil {
		return nil, errors.New("audit: Options.Store is nil")
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 500
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 2 * time.Second
	}
	if opts.MaxBacklog <= 0 {
		opts.MaxBacklog = 100000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Log{opts: opts, last: GenesisHash, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}

	tail, err := lastRecord(ctx, opts.Store)
	if err != nil {
		return nil, err
	}
	if tail != nil {
		l.seq, l.last = tail.Seq, tail.Hash
	}
	if opts.WALDir != "" {
		if err := os.MkdirAll(opts.WALDir, 0o700); err != nil {
			return nil, fmt.Errorf("audit: create WAL dir: %w", err)
		}
		segs, err := readWAL(opts.WALDir, opts.Logger)
		if err != nil {
			return nil, err
		}
		for _, s := range segs {
			l.sealed = append(l.sealed, s)
			l.backlog += len(s.lines)
			var r Record
			if err := json.Unmarshal(s.lines[len(s.lines)-1], &r); err == nil && r.Seq > l.seq {
				l.seq, l.last = r.Seq, r.Hash
			}
		}
		if len(segs) > 0 {
			opts.Logger.Warn("audit: recovered write-ahead segments", "segments", len(segs), "records", l.backlog)
		}
	}
	go l.run()
	if len(l.sealed) > 0 {
		l.signal()
	}
	return l, nil
}

// Append assigns the record its sequence number and chain hash, writes it
// to the write-ahead segment and queues it for storage. It returns the
// completed record.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("audit: append: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Record{}, ErrClosed
	}
	if l.backlog >= l.opts.MaxBacklog {
		return Record{}, ErrBacklog
	}
	if r.Time.IsZero() {
		r.Time = l.opts.Now()
	}
	r.Time = r.Time.UTC()
	r.Seq = l.seq + 1
	r.PrevHash = l.last
	h, err := r.computeHash()
	if err != nil {
		return Record{}, err
	}
	r.Hash = h
	line, err := jsonLine(r)
	if err != nil {
		return Record{}, err
	}
	if l.cur == nil {
		s := &segment{first: r.Seq, opened: l.opts.Now()}
		if l.opts.WALDir != "" {
			s.walPath = filepath.Join(l.opts.WALDir, fmt.Sprintf("%016d.wal", r.Seq))
			f, err := os.OpenFile(s.walPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
			if err != nil {
				return Record{}, fmt.Errorf("audit: open WAL segment: %w", err)
			}
			s.f = f
		}
		l.cur = s
	}
	if l.cur.f != nil {
		if _, err := l.cur.f.Write(line); err != nil {
			// The record is not acknowledged; the state does not advance.
			return Record{}, fmt.Errorf("audit: write WAL: %w", err)
		}
	}
	l.cur.lines = append(l.cur.lines, line)
	l.seq, l.last = r.Seq, r.Hash
	l.backlog++
	if len(l.cur.lines) >= l.opts.MaxBatch {
		l.sealLocked()
		l.signal()
	}
	return r, nil
}

func (l *Log) signal() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// sealLocked closes the current segment and queues it for upload.
func (l *Log) sealLocked() {
	if l.cur == nil {
		return
	}
	if l.cur.f != nil {
		if err := l.cur.f.Sync(); err != nil {
			l.opts.Logger.Error("audit: sync WAL segment", "err", err)
		}
		if err := l.cur.f.Close(); err != nil {
			l.opts.Logger.Error("audit: close WAL segment", "err", err)
		}
		l.cur.f = nil
	}
	l.sealed = append(l.sealed, l.cur)
	l.cur = nil
}

func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.MaxDelay / 4)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
		case <-tick.C:
			l.mu.Lock()
			if l.cur != nil && l.opts.Now().Sub(l.cur.opened) >= l.opts.MaxDelay {
				l.sealLocked()
			}
			l.mu.Unlock()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := l.upload(ctx); err != nil {
			l.opts.Logger.Error("audit: store batch; will retry", "err", err)
		}
		cancel()
	}
}

// upload stores sealed segments in order, stopping at the first failure.
func (l *Log) upload(ctx context.Context) error {
	l.upMu.Lock()
	defer l.upMu.Unlock()
	for {
		l.mu.Lock()
		if len(l.sealed) == 0 {
			l.mu.Unlock()
			return nil
		}
		s := l.sealed[0]
		l.mu.Unlock()

		body := bytes.Join(s.lines, nil)
		sum := sha256.Sum256(body)
		key := storage.AuditKey(s.first)
		err := l.opts.Store.PutOnce(ctx, key, body, hex.EncodeToString(sum[:]))
		if errors.Is(err, storage.ErrExists) {
			// Stored before a crash, or by another writer: keep the
			// stored copy, and let `audit verify` judge the chain.
			l.opts.Logger.Warn("audit: batch already stored", "batch", key)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("audit: put batch %s: %w", key, err)
		}
		if s.walPath != "" {
			if err := os.Remove(s.walPath); err != nil && !errors.Is(err, os.ErrNotExist) {
				l.opts.Logger.Error("audit: remove WAL segment", "err", err)
			}
		}
		l.mu.Lock()
		l.sealed = l.sealed[1:]
		l.backlog -= len(s.lines)
		l.mu.Unlock()
	}
}

// Flush seals the open batch and stores every pending batch.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	l.sealLocked()
	l.mu.Unlock()
	return l.upload(ctx)
}

// Close stops accepting records and stores what is pending. Records that
// cannot be stored stay in the WAL and are replayed by the next Open.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return l.Flush(ctx)
}

// Pending reports how many records are not yet stored.
func (l *Log) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.backlog
}

// readWAL loads every segment in dir, in chain order. A torn last line (a
// crash mid-write) is dropped.
func readWAL(dir string, log *slog.Logger) ([]*segment, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		return nil, fmt.Errorf("audit: list WAL: %w", err)
	}
	sort.Strings(names)
	var segs []*segment
	for _, name := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".wal"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("audit: WAL segment name %q: %w", filepath.Base(name), err)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("audit: read WAL: %w", err)
		}
		s := &segment{first: first, walPath: name}
		for _, line := range bytes.SplitAfter(b, []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var r Record
			if line[len(line)-1] != '\n' || json.Unmarshal(line, &r) != nil {
				log.Warn("audit: dropping torn WAL line", "segment", filepath.Base(name))
				continue
			}
			s.lines = append(s.lines, line)
		}
		if len(s.lines) == 0 {
			if err := os.Remove(name); err != nil {
				return nil, fmt.Errorf("audit: remove empty WAL segment: %w", err)
			}
			continue
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// lastRecord returns the last stored record, or nil for an empty log.
func lastRecord(ctx context.Context, st Store) (*Record, error) {
	var lastKey string
	err := st.List(ctx, storage.AuditPrefix(), func(oi storage.ObjectInfo) error {
		if strings.HasSuffix(oi.Key, batchSuffix) {
			lastKey = oi.Key
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list batches: %w", err)
	}
	if lastKey == "" {
		return nil, nil
	}
	b, _, err := st.Get(ctx, lastKey)
	if err != nil {
		return nil, fmt.Errorf("audit: read batch %s: %w", lastKey, err)
	}
	recs, err := parseBatch(b)
	if err != nil || len(recs) == 0 {
		return nil, fmt.Errorf("audit: batch %s unreadable: %w", lastKey, errOr(err, "empty"))
	}
	r := recs[len(recs)-1]
	return &r, nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

func parseBatch(b []byte) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var r Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return recs, fmt.Errorf("line %d: %w", n, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return recs, fmt.Errorf("line %d: trailing data", n)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return recs, fmt.Errorf("scan: %w", err)
	}
	return recs, nil
}
