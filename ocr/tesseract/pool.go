package tesseract

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"sohoa/ocr"
)

var (
	// ErrChildCrashed: the OCR child process died while processing this
	// input, on every attempt (segfault, out-of-memory kill, abort). The
	// input is poison: it also matches ocr.ErrUnreadable. Its
	// PermanentCode is "ocr_crash".
	ErrChildCrashed error = &poisonError{msg: "input killed the OCR child process", code: "ocr_crash"}
	// ErrTimeout: a page of the input took longer than the per-page
	// timeout, or the file longer than its overall budget; the child was
	// killed. Its PermanentCode is "ocr_timeout".
	ErrTimeout error = &poisonError{msg: "OCR timeout exceeded", code: "ocr_timeout"}
	// ErrPoolClosed: Process was called after Close.
	ErrPoolClosed = errors.New("OCR pool closed")
)

// poisonError is a sentinel for an input that fails the same way on every
// attempt, so retrying it is pointless.
type poisonError struct{ msg, code string }

func (e *poisonError) Error() string { return e.msg }

// PermanentCode is the failure's stable reason code (the quarantine code
// the pipeline records).
func (e *poisonError) PermanentCode() string { return e.code }

// PoolOptions configure a Pool. The zero value runs one child of the
// current executable (`<self> ocr-child`).
type PoolOptions struct {
	// Workers is the number of child processes, each recognising one file
	// at a time; default 1.
	Workers int
	// Command runs one child; default: os.Executable() ocr-child.
	Command []string
	// Env is added to the child's environment (after os.Environ()).
	// OMP_THREAD_LIMIT=1 is always set: libgomp reads it at load time, and
	// single-threaded Tesseract is several times faster on shared cores.
	// MALLOC_ARENA_MAX=1 is also set: each glibc malloc arena reserves 64 MiB
	// of address space, which counts against the child's RLIMIT_AS
	// (measured: 1.80 → 1.58 GB peak virtual size for a 300 dpi page at 2
	// arenas), and Tesseract runs on one thread. And MALLOC_MMAP_THRESHOLD_
	// =131072: a fixed threshold, so a page's large buffers (Leptonica's and
	// Tesseract's copies of the image) are mapped and go back to the system
	// when freed, where glibc's sliding threshold would move them onto the
	// heap after the first page and keep them. Measured on two generated
	// 50-page dossiers (one worker, two children): worker and children at
	// one instant 444–454 → 411 MiB RSS, 337–347 → 298 MiB PSS, the same
	// CPU per page.
	Env []string
	// PageTimeout bounds one page (and the opening of its file): a child
	// silent for longer is killed and the file fails with ErrTimeout;
	// default 2 minutes.
	PageTimeout time.Duration
	// FileTimeout is the overall budget of a one-page file; each further
	// page adds PageBudget. Default 5 minutes.
	FileTimeout time.Duration
	// PageBudget is what each page after the first adds to a file's
	// overall budget; default 30 seconds.
	PageBudget time.Duration
	// SpoolDir is where inputs are spooled for the children to read, in a
	// private folder the pool makes (0700, removed by Close); default the
	// system's temporary folder.
	SpoolDir string
	// CrashRetries is how many fresh children retry a file after a child
	// died on it, before ErrChildCrashed; default 1. Negative: 0.
	CrashRetries int
	// Stderr receives the children's stderr; default os.Stderr.
	Stderr io.Writer
	Logger *slog.Logger
	// Observer is told of child restarts and kills (metrics); nil: nobody.
	Observer PoolObserver
}

// PoolObserver is told what happens to the pool's children. Reasons are
// fixed words, never a file name.
type PoolObserver interface {
	// ChildRestarted: a child died on a file and a fresh one takes over.
	ChildRestarted(reason string)
	// ChildKilled: the pool killed a child (reason "timeout", "canceled"
	// or "error": a broken protocol).
	ChildKilled(reason string)
}

// StageObserver, when a PoolObserver also implements it, is told the time
// every recognised page spent in each stage (Stages: decode, deskew, osd,
// recognition, reread_<treatment>), as the child measured it: StageDone
// the wall-clock time, StageCPU the CPU time (which other load on the
// machine does not inflate).
type StageObserver interface {
	StageDone(stage string, d time.Duration)
	StageCPU(stage string, d time.Duration)
}

type nopObserver struct{}

func (nopObserver) ChildRestarted(string) {}
func (nopObserver) ChildKilled(string)    {}

// Pool supervises long-lived OCR child processes. Untrusted bytes are
// decoded and recognised only inside children, so a crash or memory blow-up
// kills a child, never the caller. Safe for concurrent use.
type Pool struct {
	opts    PoolOptions
	jobs    chan *poolJob
	quit    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Once

	mu      sync.Mutex
	running map[*poolWorker]*ocrChild // for tests and diagnostics
	starts  int
	// startErr is the last failure to start a child (nil after a start
	// succeeds): a pool that cannot start children is not ready.
	startErr error
	closed   bool
	// spool is the pool's private folder of spooled inputs.
	spool string
}

// poolJob is a range of pages of one file, for whichever child is free.
type poolJob struct {
	ctx context.Context
	req childRequest
	out chan<- jobEvent
	// last: no other page of the file comes after this job's, so its
	// child lets the file go at once instead of keeping it open.
	last bool
}

// jobEvent is what a job reports to its file's Process: a header (the
// page count), a page, or its end.
type jobEvent struct {
	msg  childMsg
	page int // 1-based number of msg's page; 0 for a header
	end  bool
	err  error // with end: the job failed
}

// NewPool starts the workers; children start on first use.
func NewPool(opts PoolOptions) (*Pool, error) {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if len(opts.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("ocr pool: find own executable: %w", err)
		}
		opts.Command = []string{exe, "ocr-child"}
	}
	if opts.PageTimeout <= 0 {
		opts.PageTimeout = 2 * time.Minute
	}
	if opts.FileTimeout <= 0 {
		opts.FileTimeout = 5 * time.Minute
	}
	if opts.PageBudget <= 0 {
		opts.PageBudget = 30 * time.Second
	}
	if opts.CrashRetries == 0 {
		opts.CrashRetries = 1
	} else if opts.CrashRetries < 0 {
		opts.CrashRetries = 0
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	spool, err := os.MkdirTemp(opts.SpoolDir, "sohoa-ocr-")
	if err != nil {
		return nil, fmt.Errorf("ocr pool: spool folder: %w", err)
	}
	p := &Pool{
		opts:    opts,
		jobs:    make(chan *poolJob),
		quit:    make(chan struct{}),
		running: map[*poolWorker]*ocrChild{},
		spool:   spool,
	}
	for i := 0; i < opts.Workers; i++ {
		w := &poolWorker{pool: p, id: i}
		p.wg.Add(1)
		go w.loop()
	}
	return p, nil
}

// Process opens and recognises one scan file in child processes, page by
// page: the file is spooled to the pool's private folder, a child opens it
// and reports its page count with its first page, and the other pages go
// one by one to whichever child is free (each child keeps the file open
// between its pages). Every page image goes to sink as it arrives, with
// its encoded Data (Image is nil: pixels do not cross the process
// boundary), and is not kept; the recognised pages are returned in page
// order. Pages of a file with PDF active content carry FlagActiveContent;
// degenerate pages carry FlagDegenerate. Input errors wrap the ocr
// sentinels; a child dying on a page gives ErrChildCrashed (and
// ocr.ErrUnreadable); a page longer than PageTimeout, or the file longer
// than its budget, gives ErrTimeout. The error names the file and the page.
func (p *Pool) Process(ctx context.Context, data []byte, name string, sink ocr.PageSink) ([]ocr.Page, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrPoolClosed
	}
	f, err := p.SpoolFile()
	if err != nil {
		return nil, err
	}
	path := f.Name()
	defer os.Remove(path)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("ocr pool: spool input: %w", err)
	}
	data = nil // the children read the file; this copy may go
	return p.processFile(ctx, childRequest{Name: name, Path: path}, sink)
}

// SpoolFile creates a file (0600) in the pool's private folder for an
// input the caller writes there and recognises with ProcessFile, so a
// large scan goes from storage to the children without being held in
// memory. The caller closes and removes it.
func (p *Pool) SpoolFile() (*os.File, error) {
	f, err := os.CreateTemp(p.spool, "in-*")
	if err != nil {
		return nil, fmt.Errorf("ocr pool: spool input: %w", err)
	}
	return f, nil
}

// ProcessFile is Process of an input written to path, a file of
// SpoolFile: the children read it in place.
func (p *Pool) ProcessFile(ctx context.Context, path, name string, sink ocr.PageSink) ([]ocr.Page, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrPoolClosed
	}
	if filepath.Dir(path) != p.spool {
		return nil, fmt.Errorf("ocr pool: %s is not a file of the pool's spool folder", path)
	}
	return p.processFile(ctx, childRequest{Name: name, Path: path}, sink)
}

// errSiblingFailed ends the other pages of a file one page of which failed.
var errSiblingFailed = errors.New("another page of the file failed")

func (p *Pool) processFile(ctx context.Context, base childRequest, sink ocr.PageSink) ([]ocr.Page, error) {
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	label := fileLabel(base.Name)
	events := make(chan jobEvent, 4)
	first := base
	first.From, first.To = 1, 1
	pending := []childRequest{first}
	inflight := 0
	var (
		pages   []ocr.Page
		got     []bool
		n       = -1 // page count, once known
		failed  error
		started = time.Now()
	)
	budget := time.NewTimer(p.opts.FileTimeout)
	defer budget.Stop()
	budgetC, done, quit := budget.C, jctx.Done(), p.quit
	fail := func(err error) {
		if failed == nil {
			failed = err
			cancel(errSiblingFailed)
		}
		pending = nil
	}
	for len(pending) > 0 || inflight > 0 {
		var jobs chan *poolJob
		var next *poolJob
		if len(pending) > 0 {
			jobs, next = p.jobs, &poolJob{ctx: jctx, req: pending[0], out: events, last: n >= 0 && len(pending) == 1}
		}
		select {
		case jobs <- next:
			pending = pending[1:]
			inflight++
		case ev := <-events:
			switch {
			case ev.end:
				inflight--
				if ev.err != nil && !errors.Is(ev.err, errSiblingFailed) {
					fail(ev.err)
				}
			case ev.page == 0: // a header
				if n >= 0 {
					break
				}
				n = ev.msg.PageCount
				pages, got = make([]ocr.Page, n), make([]bool, n)
				for k := 2; k <= n; k++ {
					r := base
					r.From, r.To = k, k
					pending = append(pending, r)
				}
				if n > 1 {
					budget.Reset(max(0, fileBudget(p.opts, n)-time.Since(started)))
				}
			case failed != nil:
			case n < 0 || ev.page > n || got[ev.page-1]:
				fail(fmt.Errorf("ocr %s: page %d out of order from the OCR child: %w", label, ev.page, ocr.ErrUnreadable))
			default:
				got[ev.page-1] = true
				pg := *ev.msg.Page
				pages[ev.page-1] = pg
				p.observeStages(ev.msg.Stages)
				w := ev.msg.Image
				if err := sink(ctx, ocr.PageImage{Number: w.Number, Data: w.Data, Format: w.Format, DPI: w.DPI}); err != nil {
					fail(fmt.Errorf("ocr %s: page %d: %w", label, ev.page, err))
				}
			}
		case <-budgetC:
			budgetC = nil
			if failed == nil {
				failed = fmt.Errorf("ocr %s: %w (budget %v for %d pages)", label, ErrTimeout, fileBudget(p.opts, n), max(1, n))
				cancel(failed)
			}
			pending = nil
		case <-done:
			done = nil
			if failed == nil {
				failed = fmt.Errorf("ocr %s: %w", label, context.Cause(jctx))
			}
			pending = nil
		case <-quit:
			quit = nil
			if failed == nil {
				failed = ErrPoolClosed
				cancel(ErrPoolClosed)
			}
			pending = nil
		}
	}
	if failed != nil {
		return nil, failed
	}
	for i := range got {
		if !got[i] {
			return nil, fmt.Errorf("ocr %s: page %d not recognised: %w", label, i+1, ocr.ErrUnreadable)
		}
	}
	return pages, nil
}

// fileBudget is the overall time a file of n pages may take: FileTimeout,
// plus PageBudget for each page after the first.
func fileBudget(opts PoolOptions, n int) time.Duration {
	return opts.FileTimeout + time.Duration(max(0, n-1))*opts.PageBudget
}

// observeStages passes a page's stage timings to the observer.
func (p *Pool) observeStages(st Stages) {
	so, ok := p.opts.Observer.(StageObserver)
	if !ok {
		return
	}
	for stage, d := range st {
		so.StageDone(stage, d.Wall)
		so.StageCPU(stage, d.CPU)
	}
}

// StageChildBusy is the stage a pool reports for each page job: the time
// a child worked on it, from the job taken to its last message, including
// opening the file, encoding the page image and the protocol. Its sum over
// a period, against the number of children times the period, is how busy
// the children were (the bench's utilisation).
const StageChildBusy = "ocr_child_busy"

// observeBusy reports one page job's time in a child.
func (p *Pool) observeBusy(d time.Duration) {
	if so, ok := p.opts.Observer.(StageObserver); ok {
		so.StageDone(StageChildBusy, d)
	}
}

// Up reports whether the pool can take work: not closed, and the last
// child start (if any) succeeded. Children start on first use, so a fresh
// pool is up.
func (p *Pool) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return ErrPoolClosed
	case p.startErr != nil:
		return fmt.Errorf("ocr pool: last child start failed: %w", p.startErr)
	}
	return nil
}

// Close stops the workers and their children. In-flight calls finish first.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.closeMu.Do(func() { close(p.quit) })
	p.wg.Wait()
	return os.RemoveAll(p.spool)
}

// childPIDs lists the running children's process IDs.
func (p *Pool) childPIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, c := range p.running {
		pids = append(pids, c.cmd.Process.Pid)
	}
	return pids
}

// childStarts counts children started so far.
func (p *Pool) childStarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

type poolWorker struct {
	pool  *Pool
	id    int
	child *ocrChild
}

func (w *poolWorker) loop() {
	defer w.pool.wg.Done()
	defer w.dropChild(false)
	var job *poolJob
	for {
		if job == nil {
			select {
			case <-w.pool.quit:
				return
			case job = <-w.pool.jobs:
			}
		}
		began := time.Now()
		err := w.run(job)
		w.pool.observeBusy(time.Since(began))
		job.out <- jobEvent{end: true, err: err}
		if job.last {
			job = nil
			w.release()
			continue
		}
		// The next page if one comes soon (its file's Process may be
		// storing the last page image), else the child lets its file go.
		idle := time.NewTimer(releaseAfter)
		select {
		case job = <-w.pool.jobs:
		case <-w.pool.quit:
			job = nil
		case <-idle.C:
			job = nil
			w.release()
		}
		idle.Stop()
	}
}

// releaseAfter is how long a child keeps its last file open waiting for
// another page: the next page of a file is usually asked for within
// milliseconds, and opening it again costs a parse and a text-layer
// analysis of the whole file.
const releaseAfter = time.Second

// release asks the child to drop the file it keeps open; a child that does
// not answer is killed.
func (w *poolWorker) release() {
	if w.child == nil {
		return
	}
	final, err := w.child.roundTrip(context.Background(), childRequest{Release: true}, w.pool.opts.PageTimeout, func(childMsg) error { return nil })
	if err != nil || final.ErrKind != "" {
		w.dropChild(true)
		w.pool.opts.Observer.ChildKilled("error")
	}
}

func (w *poolWorker) setChild(c *ocrChild) {
	w.child = c
	w.pool.mu.Lock()
	defer w.pool.mu.Unlock()
	if c == nil {
		delete(w.pool.running, w)
		return
	}
	w.pool.running[w] = c
	w.pool.starts++
}

// dropChild ends the current child: killed, or (graceful) stdin closed so
// it exits on EOF.
func (w *poolWorker) dropChild(kill bool) {
	if w.child == nil {
		return
	}
	w.child.stop(kill)
	w.setChild(nil)
}

// run processes one job, restarting children that die, up to CrashRetries
// times per job; a retry goes on from the first page not yet delivered.
func (w *poolWorker) run(job *poolJob) error {
	log := w.pool.opts.Logger
	label := fileLabel(job.req.Name)
	var lastCrash error
	forward := func(m childMsg) error {
		ev := jobEvent{msg: m}
		if m.Page == nil && m.PageCount > 0 && job.req.To >= m.PageCount {
			job.last = true // a one-page file, or a range to its end
		}
		if m.Page != nil {
			if job.req.To > 0 && job.req.From > job.req.To {
				return fmt.Errorf("more pages than asked for: %w", ocr.ErrUnreadable)
			}
			ev.page = job.req.From
			job.req.From++ // a retry goes on from the next page
		}
		select {
		case job.out <- ev:
			return nil
		case <-job.ctx.Done():
			return context.Cause(job.ctx)
		}
	}
	for attempt := 0; attempt <= w.pool.opts.CrashRetries; attempt++ {
		if w.child == nil {
			c, err := startChild(w.pool.opts)
			w.pool.mu.Lock()
			w.pool.startErr = err
			w.pool.mu.Unlock()
			if err != nil {
				return fmt.Errorf("ocr pool: start child: %w", err)
			}
			w.setChild(c)
			if attempt > 0 {
				w.pool.opts.Observer.ChildRestarted("crash")
			}
		}
		final, err := w.child.roundTrip(job.ctx, job.req, w.pool.opts.PageTimeout, forward)
		var crash *childCrash
		switch {
		case err == nil:
			if final.ErrKind != "" {
				return remoteErr(final.ErrKind, final.ErrMsg)
			}
			return nil
		case errors.As(err, &crash):
			w.setChild(nil) // already dead and reaped
			lastCrash = err
			log.Warn("OCR child died", "file", label, "page", job.req.From, "attempt", attempt+1, "err", err)
			continue
		default:
			// Timeout, cancellation or a broken protocol: the child is in
			// an unknown state, kill it.
			w.dropChild(true)
			w.pool.opts.Observer.ChildKilled(killReason(err))
			return fmt.Errorf("ocr %s page %d: %w", label, job.req.From, err)
		}
	}
	return fmt.Errorf("ocr %s page %d: %w (%v): %w", label, job.req.From, ErrChildCrashed, lastCrash, ocr.ErrUnreadable)
}

// killReason names why a child was killed, for metrics.
func killReason(err error) string {
	switch {
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, errSiblingFailed),
		errors.Is(err, ErrPoolClosed):
		return "canceled"
	}
	return "error"
}

// fileLabel shortens a file name for messages and masks citizen IDs.
func fileLabel(name string) string {
	return ocr.InputLabel(name)
}

// ocrChild is one running child process.
type ocrChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *os.File
	enc    *gob.Encoder
	dec    *gob.Decoder
	exited chan struct{}
	// waitErr is cmd.Wait's result, valid once exited is closed.
	waitErr error
}

// childCrash reports a child that died during a request.
type childCrash struct{ err error }

func (c *childCrash) Error() string { return "child process died: " + c.err.Error() }
func (c *childCrash) Unwrap() error { return c.err }

func startChild(opts PoolOptions) (*ocrChild, error) {
	cmd := exec.Command(opts.Command[0], opts.Command[1:]...)
	cmd.Env = append(append(os.Environ(), opts.Env...), "OMP_THREAD_LIMIT=1", "MALLOC_ARENA_MAX=1", "MALLOC_MMAP_THRESHOLD_=131072")
	cmd.Stderr = opts.Stderr
	// The child dies with its worker: the kernel sends it SIGKILL when the
	// parent dies (Pdeathsig), so a worker killed with SIGKILL leaves no OCR
	// running on for minutes. Its own process group keeps a terminal's
	// Ctrl-C for the worker, which then stops its children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	// Our own pipe for stdout, so Wait never closes it under a reader.
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	cmd.Stdout = wr
	if err := cmd.Start(); err != nil {
		r.Close()
		wr.Close()
		return nil, fmt.Errorf("run %s: %w", opts.Command[0], err)
	}
	wr.Close()
	c := &ocrChild{cmd: cmd, stdin: stdin, stdout: r, enc: gob.NewEncoder(stdin), dec: gob.NewDecoder(r), exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	opts.Logger.Debug("OCR child started", "pid", cmd.Process.Pid)
	return c, nil
}

// roundTrip sends one request and passes each message of the answer to
// onMsg until the final one, which it returns; it gives up on the child's
// death, ctx, or timeout without a message.
func (c *ocrChild) roundTrip(ctx context.Context, req childRequest, timeout time.Duration, onMsg func(childMsg) error) (childMsg, error) {
	msgs := make(chan childMsg)
	errc := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		if err := c.enc.Encode(&req); err != nil {
			errc <- fmt.Errorf("send request: %w", err)
			return
		}
		for {
			var m childMsg
			if err := c.dec.Decode(&m); err != nil {
				errc <- fmt.Errorf("read response: %w", err)
				return
			}
			select {
			case msgs <- m:
			case <-stop:
				return
			}
			if m.Done {
				return
			}
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case m := <-msgs:
			if m.Done {
				return m, nil
			}
			if err := onMsg(m); err != nil {
				c.stop(true)
				return childMsg{}, err
			}
			timer.Reset(timeout)
		case err := <-errc:
			// The child closed its end: find out how it ended.
			select {
			case <-c.exited:
			case <-time.After(2 * time.Second):
			}
			c.stop(true)
			if c.waitErr != nil {
				return childMsg{}, &childCrash{err: c.waitErr}
			}
			return childMsg{}, &childCrash{err: err}
		case <-ctx.Done():
			c.stop(true)
			return childMsg{}, context.Cause(ctx)
		case <-timer.C:
			c.stop(true)
			return childMsg{}, fmt.Errorf("%w (%v without an answer)", ErrTimeout, timeout)
		}
	}
}

// stop ends the child: SIGKILL when kill, else close stdin and give it a
// few seconds to exit on EOF before killing it.
func (c *ocrChild) stop(kill bool) {
	if !kill {
		c.stdin.Close()
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			kill = true
		}
	}
	if kill {
		_ = c.cmd.Process.Kill() // an already exited process is fine
		<-c.exited
	}
	c.stdin.Close()
	c.stdout.Close()
}
