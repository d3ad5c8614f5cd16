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
	// ErrTimeout: the input took longer than the per-file timeout; the
	// child was killed. Its PermanentCode is "ocr_timeout".
	ErrTimeout error = &poisonError{msg: "OCR per-file timeout exceeded", code: "ocr_timeout"}
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
	// MALLOC_ARENA_MAX=2 is also set: each glibc malloc arena reserves 64 MiB
	// of address space, which counts against the child's RLIMIT_AS
	// (measured: 1.80 → 1.58 GB peak virtual size for a 300 dpi page).
	Env []string
	// FileTimeout bounds one file; default 5 minutes.
	FileTimeout time.Duration
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
}

type poolJob struct {
	ctx  context.Context
	req  childRequest
	resp chan poolResult
}

type poolResult struct {
	resp childResponse
	err  error
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
	if opts.FileTimeout <= 0 {
		opts.FileTimeout = 5 * time.Minute
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
	p := &Pool{
		opts:    opts,
		jobs:    make(chan *poolJob),
		quit:    make(chan struct{}),
		running: map[*poolWorker]*ocrChild{},
	}
	for i := 0; i < opts.Workers; i++ {
		w := &poolWorker{pool: p, id: i}
		p.wg.Add(1)
		go w.loop()
	}
	return p, nil
}

// Process opens and recognises one scan file in a child process. It returns
// the recognised pages and the page images with their encoded Data (Image
// is nil: pixels do not cross the process boundary). Pages of a file with
// PDF active content carry FlagActiveContent; degenerate pages carry
// FlagDegenerate. Input errors wrap the ocr sentinels; a child dying on the
// input gives ErrChildCrashed (and ocr.ErrUnreadable); the per-file timeout
// gives ErrTimeout.
func (p *Pool) Process(ctx context.Context, data []byte, name string) ([]ocr.Page, []ocr.PageImage, error) {
	job := &poolJob{ctx: ctx, req: childRequest{Name: name, Data: data}, resp: make(chan poolResult, 1)}
	select {
	case p.jobs <- job:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("ocr pool: wait for a child: %w", ctx.Err())
	case <-p.quit:
		return nil, nil, ErrPoolClosed
	}
	r := <-job.resp
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.resp.ErrKind != "" {
		return nil, nil, remoteErr(r.resp.ErrKind, r.resp.ErrMsg)
	}
	if so, ok := p.opts.Observer.(StageObserver); ok {
		for _, st := range r.resp.Stages {
			for stage, d := range st {
				so.StageDone(stage, d.Wall)
				so.StageCPU(stage, d.CPU)
			}
		}
	}
	imgs := make([]ocr.PageImage, len(r.resp.Images))
	for i, w := range r.resp.Images {
		imgs[i] = ocr.PageImage{Number: w.Number, Data: w.Data, Format: w.Format, DPI: w.DPI}
	}
	return r.resp.Pages, imgs, nil
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
	return nil
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
	for {
		select {
		case <-w.pool.quit:
			return
		case job := <-w.pool.jobs:
			resp, err := w.run(job)
			job.resp <- poolResult{resp: resp, err: err}
		}
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
// times per job.
func (w *poolWorker) run(job *poolJob) (childResponse, error) {
	log := w.pool.opts.Logger
	label := fileLabel(job.req.Name)
	var lastCrash error
	for attempt := 0; attempt <= w.pool.opts.CrashRetries; attempt++ {
		if w.child == nil {
			c, err := startChild(w.pool.opts)
			w.pool.mu.Lock()
			w.pool.startErr = err
			w.pool.mu.Unlock()
			if err != nil {
				return childResponse{}, fmt.Errorf("ocr pool: start child: %w", err)
			}
			w.setChild(c)
			if attempt > 0 {
				w.pool.opts.Observer.ChildRestarted("crash")
			}
		}
		resp, err := w.child.roundTrip(job.ctx, job.req, w.pool.opts.FileTimeout)
		var crash *childCrash
		switch {
		case err == nil:
			return resp, nil
		case errors.As(err, &crash):
			w.setChild(nil) // already dead and reaped
			lastCrash = err
			log.Warn("OCR child died", "file", label, "attempt", attempt+1, "err", err)
			continue
		default:
			// Timeout, cancellation or a broken protocol: the child is in
			// an unknown state, kill it.
			w.dropChild(true)
			w.pool.opts.Observer.ChildKilled(killReason(err))
			return childResponse{}, fmt.Errorf("ocr %s: %w", label, err)
		}
	}
	return childResponse{}, fmt.Errorf("ocr %s: %w (%v): %w", label, ErrChildCrashed, lastCrash, ocr.ErrUnreadable)
}

// killReason names why a child was killed, for metrics.
func killReason(err error) string {
	switch {
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
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
	cmd.Env = append(append(os.Environ(), opts.Env...), "OMP_THREAD_LIMIT=1", "MALLOC_ARENA_MAX=2")
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

// roundTrip sends one request and waits for its answer, the child's death,
// ctx or the timeout.
func (c *ocrChild) roundTrip(ctx context.Context, req childRequest, timeout time.Duration) (childResponse, error) {
	type result struct {
		resp childResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		if err := c.enc.Encode(&req); err != nil {
			done <- result{err: fmt.Errorf("send request: %w", err)}
			return
		}
		var resp childResponse
		if err := c.dec.Decode(&resp); err != nil {
			done <- result{err: fmt.Errorf("read response: %w", err)}
			return
		}
		done <- result{resp: resp}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err == nil {
			return r.resp, nil
		}
		// The child closed its end: find out how it ended.
		select {
		case <-c.exited:
		case <-time.After(2 * time.Second):
		}
		c.stop(true)
		if c.waitErr != nil {
			return childResponse{}, &childCrash{err: c.waitErr}
		}
		return childResponse{}, &childCrash{err: r.err}
	case <-ctx.Done():
		c.stop(true)
		<-done
		return childResponse{}, ctx.Err()
	case <-timer.C:
		c.stop(true)
		<-done
		return childResponse{}, fmt.Errorf("%w (%v)", ErrTimeout, timeout)
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
