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
	"sync"
	"time"

	"sohoa/storage"
)

// Store is what the audit log needs from object storage; storage.Bucket
// satisfies it. Upload must be create-once (the bucket is expected to apply
// its default object-lock retention to every new object).
type Store interface {
	Upload(ctx context.Context, key string, body io.Reader, size int64, sha256hex string) error
	Get(ctx context.Context, key string) ([]byte, storage.ObjectInfo, error)
	List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error
}

// Errors returned by Append.
var (
	ErrClosed  = errors.New("audit: log closed")
	ErrBacklog = errors.New("audit: too many records not yet stored")
	// ErrConflict: the store holds other bytes under one of this writer's
	// batch keys. The log then fails closed; its records stay in the WAL
	// and the next Open re-chains them into a new writer's chain.
	ErrConflict = errors.New("audit: another batch is stored under this writer's key")
)

// Options configure a Log. Zero values are useful except Store.
type Options struct {
	Store Store
	// WALDir is the folder of this machine's audit write-ahead logs, on a
	// local filesystem. Each Log writes its own subfolder WALDir/{writer},
	// locked (flock) while it runs, so any number of processes may share
	// WALDir. Every record is written there (one write(2), which a killed
	// process cannot undo) before Append returns. Open, and then every
	// ReplayEvery, replays the subfolders of writers that died (their lock
	// is free): their records are stored in their own chains, which are
	// then closed. Empty disables the WAL (tests only): a crash then loses
	// the unstored batches.
	WALDir      string
	MaxBatch    int           // records per batch, default 500, at most storage.MaxAuditBatch
	MaxDelay    time.Duration // age after which a batch is stored, default 2s
	MaxBacklog  int           // unstored records before Append fails closed, default 100000
	ReplayEvery time.Duration // how often dead writers' WALs are looked for, default 1m
	Logger      *slog.Logger
	Now         func() time.Time
}

type segment struct {
	first   uint64
	lines   [][]byte
	opened  time.Time
	f       *os.File
	walPath string
}

// Log appends records to its writer's chain and stores them in batches. It
// is safe for concurrent use. Close it on shutdown to store the last batch
// and close the chain.
type Log struct {
	opts   Options
	writer string
	dir    string   // this writer's WAL folder; "" without a WAL
	lock   *os.File // holds the flock on dir

	mu      sync.Mutex
	seq     uint64
	last    string
	cur     *segment
	sealed  []*segment
	backlog int
	closed  bool
	broken  error // ErrConflict once seen: Append fails closed

	upMu sync.Mutex // serialises uploads so batches are stored in order
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Open starts a new writer: it replays what dead writers left in WALDir,
// stores an open record naming the other chains' heads as the first batch
// of its own chain, and starts the background flusher.
func Open(ctx context.Context, opts Options) (*Log, error) {
	if opts.Store == nil {
		return nil, errors.New("audit: Options.Store is nil")
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 500
	}
	opts.MaxBatch = min(opts.MaxBatch, storage.MaxAuditBatch)
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 2 * time.Second
	}
	if opts.MaxBacklog <= 0 {
		opts.MaxBacklog = 100000
	}
	if opts.ReplayEvery <= 0 {
		opts.ReplayEvery = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	writer, err := NewWriter()
	if err != nil {
		return nil, err
	}
	l := &Log{opts: opts, writer: writer, last: GenesisHash, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}

	var orphans []Record
	cleanup := func(remove bool) {}
	if opts.WALDir != "" {
		if err := os.MkdirAll(opts.WALDir, 0o700); err != nil {
			return nil, fmt.Errorf("audit: create WAL dir: %w", err)
		}
		if l.dir, l.lock, err = newWriterDir(opts.WALDir, writer); err != nil {
			return nil, err
		}
		if orphans, cleanup, err = l.replayDead(ctx); err != nil {
			l.release(false)
			return nil, err
		}
	}
	heads, err := chainHeads(ctx, opts.Store, writer, opts.Logger)
	if err != nil {
		cleanup(false)
		l.release(false)
		return nil, err
	}
	l.mu.Lock()
	_, err = l.appendLocked(Record{Event: EventOpen, Heads: heads})
	if err == nil {
		err = l.adoptLocked(orphans)
	}
	l.mu.Unlock()
	if err != nil {
		cleanup(false)
		l.release(false)
		return nil, err
	}
	cleanup(true)
	if err := l.Flush(ctx); err != nil {
		// The open batch stays in this writer's WAL; the next Open replays it.
		l.release(false)
		return nil, fmt.Errorf("audit: store the open batch: %w", err)
	}
	opts.Logger.Info("audit: writer started", "writer", writer, "chains_seen", len(heads))
	go l.run()
	return l, nil
}

// Writer is this log's writer ID: its chain is under
// storage.AuditChainPrefix(Writer()).
func (l *Log) Writer() string { return l.writer }

// Append assigns the record its writer, sequence number and chain hash,
// writes it to the write-ahead log and queues it for storage. It returns
// the completed record. When Append returns nil the record survives the
// process being killed.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("audit: append: %w", err)
	}
	if r.Event != "" || r.Heads != nil {
		return Record{}, errors.New("audit: append: events are written by the log itself")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return Record{}, ErrClosed
	case l.broken != nil:
		return Record{}, l.broken
	case l.backlog >= l.opts.MaxBacklog:
		return Record{}, ErrBacklog
	}
	return l.appendLocked(r)
}

// appendLocked chains r onto this writer's chain and writes it to the WAL.
// A record that cannot be written is not acknowledged and the chain does
// not advance.
func (l *Log) appendLocked(r Record) (Record, error) {
	if r.Time.IsZero() {
		r.Time = l.opts.Now()
	}
	r.Time = r.Time.UTC()
	r.Writer = l.writer
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
		if l.dir != "" {
			s.walPath = filepath.Join(l.dir, fmt.Sprintf("%016d%s", r.Seq, walSuffix))
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

// adoptLocked re-chains requests that could not be stored in their own
// chain into this one, keeping their content and time, and syncs the WAL
// so their sources may be removed.
func (l *Log) adoptLocked(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	for _, r := range recs {
		r.Writer, r.Seq, r.PrevHash, r.Hash = "", 0, "", ""
		if _, err := l.appendLocked(r); err != nil {
			return err
		}
	}
	l.opts.Logger.Warn("audit: re-chained records that could not be stored in their own chain", "records", len(recs), "writer", l.writer)
	if l.cur != nil && l.cur.f != nil {
		if err := l.cur.f.Sync(); err != nil {
			return fmt.Errorf("audit: sync WAL: %w", err)
		}
	}
	return nil
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
	replay := time.NewTicker(l.opts.ReplayEvery)
	defer replay.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
		case <-replay.C:
			if l.dir != "" {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				if err := l.replayNow(ctx); err != nil {
					l.opts.Logger.Error("audit: replay dead writers; will retry", "err", err)
				}
				cancel()
			}
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

// replayNow stores what dead writers left and re-chains here what could
// not go to their chains.
func (l *Log) replayNow(ctx context.Context) error {
	orphans, cleanup, err := l.replayDead(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.closed && len(orphans) > 0 {
		err = ErrClosed // the sources stay for the next writer
	} else {
		err = l.adoptLocked(orphans)
	}
	l.mu.Unlock()
	if err != nil {
		cleanup(false)
		return err
	}
	cleanup(true)
	return nil
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

		key := storage.AuditKey(l.writer, s.first, len(s.lines))
		if err := putBatch(ctx, l.opts.Store, key, bytes.Join(s.lines, nil)); err != nil {
			if errors.Is(err, ErrConflict) {
				l.mu.Lock()
				l.broken = err
				l.mu.Unlock()
			}
			return err
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

// putBatch stores a batch create-once. A batch already stored with the
// same bytes (an upload whose answer was lost, or one replayed from a WAL)
// is success; other bytes under the key are ErrConflict: nothing is ever
// dropped on the assumption that the stored copy is ours.
func putBatch(ctx context.Context, st Store, key string, body []byte) error {
	sum := sha256.Sum256(body)
	err := st.Upload(ctx, key, bytes.NewReader(body), int64(len(body)), hex.EncodeToString(sum[:]))
	if errors.Is(err, storage.ErrExists) {
		stored, _, gerr := st.Get(ctx, key)
		switch {
		case gerr != nil:
			return fmt.Errorf("audit: batch %s exists; read it back: %w", key, gerr)
		case !bytes.Equal(stored, body):
			return fmt.Errorf("audit: batch %s: %w", key, ErrConflict)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: put batch %s: %w", key, err)
	}
	return nil
}

// Flush seals the open batch and stores every pending batch.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	l.sealLocked()
	l.mu.Unlock()
	return l.upload(ctx)
}

// Close stops accepting records, appends the close record and stores what
// is pending. Records that cannot be stored stay in the WAL and are
// replayed by the next Open on the same WALDir.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	var err error
	if l.broken == nil {
		_, err = l.appendLocked(Record{Event: EventClose, Rule: "stopped"})
	}
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	if ferr := l.Flush(ctx); ferr != nil {
		err = errors.Join(err, ferr)
	}
	l.release(err == nil && l.Pending() == 0)
	return err
}

// release drops this writer's WAL lock, removing its folder first when
// everything in it is stored.
func (l *Log) release(remove bool) {
	l.mu.Lock()
	if l.cur != nil && l.cur.f != nil {
		l.cur.f.Close() // a failed Open: the segment stays for the next one
		l.cur.f = nil
	}
	l.mu.Unlock()
	if l.lock == nil {
		return
	}
	if remove {
		if err := os.RemoveAll(l.dir); err != nil {
			l.opts.Logger.Error("audit: remove WAL folder", "err", err)
		}
	}
	l.lock.Close()
	l.lock = nil
}

// Pending reports how many records are not yet stored.
func (l *Log) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.backlog
}

// Lag is how long the oldest record not yet stored in the bucket has
// waited (0 when every record is stored): the audit batch lag.
func (l *Log) Lag() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var oldest time.Time
	switch {
	case len(l.sealed) > 0:
		oldest = l.sealed[0].opened
	case l.cur != nil:
		oldest = l.cur.opened
	default:
		return 0
	}
	return max(l.opts.Now().Sub(oldest), 0)
}

// chainTail returns the last stored record of writer's chain, or nil when
// it has no batch.
func chainTail(ctx context.Context, st Store, writer string) (*Record, error) {
	var lastKey string
	var lastFirst uint64
	err := st.List(ctx, storage.AuditChainPrefix(writer), func(oi storage.ObjectInfo) error {
		if w, first, _, err := storage.ParseAuditKey(oi.Key); err == nil && w == writer && (lastKey == "" || first > lastFirst) {
			lastKey, lastFirst = oi.Key, first
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list chain %s: %w", writer, err)
	}
	if lastKey == "" {
		return nil, nil
	}
	return lastOf(ctx, st, lastKey)
}

// lastOf reads a batch and returns its last record.
func lastOf(ctx context.Context, st Store, key string) (*Record, error) {
	b, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("audit: read batch %s: %w", key, err)
	}
	recs, err := parseBatch(b)
	if err != nil || len(recs) == 0 {
		return nil, fmt.Errorf("audit: batch %s unreadable: %w", key, errOr(err, "empty"))
	}
	r := recs[len(recs)-1]
	return &r, nil
}

// chainHeads returns the last stored record of every chain but except's,
// by writer. A chain whose last batch cannot be read is left out (audit
// verify reports it).
func chainHeads(ctx context.Context, st Store, except string, log *slog.Logger) ([]Head, error) {
	type last struct {
		key   string
		first uint64
	}
	lasts := map[string]last{}
	err := st.List(ctx, storage.AuditPrefix(), func(oi storage.ObjectInfo) error {
		w, first, _, err := storage.ParseAuditKey(oi.Key)
		if err != nil || w == except {
			return nil
		}
		if l, ok := lasts[w]; !ok || first > l.first {
			lasts[w] = last{oi.Key, first}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list chains: %w", err)
	}
	var heads []Head
	for w, l := range lasts {
		r, err := lastOf(ctx, st, l.key)
		var perr *parseError
		switch {
		case errors.As(err, &perr) || errors.Is(err, storage.ErrCorrupt):
			log.Warn("audit: chain head unreadable; left out of the open record", "writer", w, "err", err)
			continue
		case err != nil:
			return nil, err
		}
		heads = append(heads, Head{Writer: w, Seq: r.Seq, Hash: r.Hash})
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].Writer < heads[j].Writer })
	return heads, nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return &parseError{errors.New(msg)}
}

// parseError is a batch that is not valid JSON lines of records.
type parseError struct{ err error }

func (e *parseError) Error() string { return e.err.Error() }
func (e *parseError) Unwrap() error { return e.err }

func parseBatch(b []byte) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var r Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return recs, &parseError{fmt.Errorf("line %d: %w", n, err)}
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return recs, &parseError{fmt.Errorf("line %d: trailing data", n)}
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return recs, &parseError{fmt.Errorf("scan: %w", err)}
	}
	return recs, nil
}
