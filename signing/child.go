package signing

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors of a verification in a child process. Both mean the input killed
// or stalled the verifier, which no e-result of ours does: such input is
// hostile or broken, and retrying it is pointless.
var (
	// ErrChildCrashed: the verifier child died before answering (a runtime
	// fatal error, its memory limit, a signal).
	ErrChildCrashed = errors.New("input killed the verifier child process")
	// ErrChildTimeout: the verification took longer than the timeout; the
	// child was killed.
	ErrChildTimeout = errors.New("verification timed out")
)

// ChildOptions configure a ChildVerifier: what every verification trusts and
// requires, and the bounds of each child.
type ChildOptions struct {
	// Roots are the trusted signer CAs (required); TSARoots the trusted
	// timestamp-authority CAs, nil meaning Roots.
	Roots, TSARoots []*x509.Certificate
	// RequireTimestamp and AllowAnyEKU are VerifyOptions'.
	RequireTimestamp, AllowAnyEKU bool
	// Now is the verification time when a signature has no timestamp; nil
	// means time.Now.
	Now func() time.Time

	// Command runs one child; default: os.Executable() verify-child. The
	// child must call ServeVerifyChild on its standard input and output.
	Command []string
	// Env is the child's whole environment (it needs none).
	Env []string
	// MemoryLimit is how much address space the child may map for the
	// verification, in bytes, beyond what it has mapped once it has read
	// the request (a Go binary starts with over a gigabyte of reserved,
	// mostly untouched address space, so an absolute limit would measure the
	// binary, not the input): it sets RLIMIT_AS to its size then plus this.
	// Default 1 GiB.
	MemoryLimit uint64
	// Timeout bounds one verification, child start included; default 30s.
	Timeout time.Duration
	// Children is how many children may run at once; default the number of
	// CPUs. Further calls wait, as long as their context allows.
	Children int
	Logger   *slog.Logger
}

// ChildVerifier runs Verify in a short-lived child process per file, so
// that untrusted bytes are parsed where a crash or a memory blow-up kills
// one child, never the caller: the child runs under an address-space limit
// and a smaller stack limit, is killed at the timeout, and is killed with
// its parent (PR_SET_PDEATHSIG). Safe for concurrent use.
type ChildVerifier struct {
	opts  ChildOptions
	roots [][]byte // DER
	tsa   [][]byte
	slots chan struct{}
}

// NewChildVerifier checks opts and fills in the defaults.
func NewChildVerifier(opts ChildOptions) (*ChildVerifier, error) {
	if len(opts.Roots) == 0 {
		return nil, errors.New("child verifier: no trusted roots")
	}
	if len(opts.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("child verifier: find own executable: %w", err)
		}
		opts.Command = []string{exe, "verify-child"}
	}
	if opts.MemoryLimit == 0 {
		opts.MemoryLimit = 1 << 30
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Children <= 0 {
		opts.Children = runtime.NumCPU()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	der := func(cs []*x509.Certificate) [][]byte {
		var out [][]byte
		for _, c := range cs {
			out = append(out, c.Raw)
		}
		return out
	}
	return &ChildVerifier{opts: opts, roots: der(opts.Roots), tsa: der(opts.TSARoots),
		slots: make(chan struct{}, opts.Children)}, nil
}

// The child protocol: the parent gob-encodes one childVerifyRequest on the
// child's stdin and closes it; the child answers one childVerifyResponse on
// stdout and exits.

type childVerifyRequest struct {
	MemoryLimit                   uint64
	Roots, TSARoots               [][]byte
	RequireTimestamp, AllowAnyEKU bool
	Now                           time.Time
	PDF                           []byte
}

// wireVerdict is a Verdict without the parsed certificate.
type wireVerdict struct {
	Valid            bool
	Reasons          []string
	Signer           string
	SigningTime      time.Time
	Timestamp        *time.Time
	SubFilter        string
	ByteRange        [4]int64
	SignerCertSHA256 string
	SignedSHA256     string
	ResultCode       string
}

type childVerifyResponse struct {
	Verdict wireVerdict
	// ErrKinds name the sentinels the error wraps (see childErrKinds); ErrMsg
	// is its message. Both are empty when the verdict is valid.
	ErrKinds []string
	ErrMsg   string
}

var childErrKinds = []struct {
	kind string
	err  error
}{
	{"invalid", ErrInvalid},
	{"not_pdf", ErrNotPDF},
	{"limit", ErrLimit},
}

// childError is an error reported by the child, re-attached to its
// sentinels so errors.Is works across the process boundary.
type childError struct {
	msg   string
	kinds []error
}

func (e *childError) Error() string   { return e.msg }
func (e *childError) Unwrap() []error { return e.kinds }

// Verify checks pdf as Verify does, in a child process. Besides Verify's
// errors it returns ErrChildCrashed or ErrChildTimeout (the input is
// poison), the context's error, or an error starting the child. The
// verdict's SignerCert is nil; SignerCertSHA256 names the certificate.
func (cv *ChildVerifier) Verify(ctx context.Context, pdf []byte) (Verdict, error) {
	select {
	case cv.slots <- struct{}{}:
	case <-ctx.Done():
		return Verdict{}, fmt.Errorf("verify in child: wait for a slot: %w", ctx.Err())
	}
	defer func() { <-cv.slots }()
	req := childVerifyRequest{MemoryLimit: cv.opts.MemoryLimit, Roots: cv.roots, TSARoots: cv.tsa,
		RequireTimestamp: cv.opts.RequireTimestamp, AllowAnyEKU: cv.opts.AllowAnyEKU, Now: cv.opts.Now(), PDF: pdf}
	var in bytes.Buffer
	if err := gob.NewEncoder(&in).Encode(&req); err != nil {
		return Verdict{}, fmt.Errorf("verify in child: encode request: %w", err)
	}
	tctx, cancel := context.WithTimeout(ctx, cv.opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, cv.opts.Command[0], cv.opts.Command[1:]...)
	cmd.Env = append([]string{}, cv.opts.Env...)
	cmd.Stdin = &in
	var out bytes.Buffer
	stderr := &headBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = &limitedWriter{w: &out, n: 1 << 20}, stderr
	cmd.WaitDelay = time.Second
	// The child is killed when the thread that started it ends; this
	// goroutine keeps that thread until the child has exited.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started, waited := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	begin := time.Now()
	if err := <-started; err != nil {
		return Verdict{}, fmt.Errorf("verify in child: start %s: %w", cv.opts.Command[0], err)
	}
	werr := <-waited
	switch {
	case ctx.Err() != nil:
		return Verdict{}, fmt.Errorf("verify in child: %w", ctx.Err())
	case tctx.Err() != nil:
		cv.opts.Logger.Warn("verifier child killed at the timeout", "timeout", cv.opts.Timeout, "bytes", len(pdf))
		return Verdict{}, fmt.Errorf("verify in child: %w (%v)", ErrChildTimeout, cv.opts.Timeout)
	}
	var resp childVerifyResponse
	derr := gob.NewDecoder(&out).Decode(&resp)
	if werr != nil || derr != nil {
		cv.opts.Logger.Warn("verifier child died", "exit", fmt.Sprint(werr), "bytes", len(pdf), "stderr", stderr.firstLine())
		return Verdict{}, fmt.Errorf("verify in child: %w (%v; %q)", ErrChildCrashed, errors.Join(werr, derr), stderr.firstLine())
	}
	cv.opts.Logger.Debug("PDF verified in a child process", "pid", cmd.Process.Pid, "bytes", len(pdf),
		"valid", resp.Verdict.Valid, "took", time.Since(begin))
	w := resp.Verdict
	v := Verdict{Valid: w.Valid, Reasons: w.Reasons, Signer: w.Signer, SigningTime: w.SigningTime,
		Timestamp: w.Timestamp, SubFilter: w.SubFilter, ByteRange: w.ByteRange,
		SignerCertSHA256: w.SignerCertSHA256, SignedSHA256: w.SignedSHA256, ResultCode: w.ResultCode}
	if len(resp.ErrKinds) == 0 && resp.ErrMsg == "" {
		if !v.Valid {
			return v, fmt.Errorf("verify in child: %w: invalid verdict without an error", ErrChildCrashed)
		}
		return v, nil
	}
	e := &childError{msg: resp.ErrMsg}
	for _, k := range childErrKinds {
		for _, got := range resp.ErrKinds {
			if got == k.kind {
				e.kinds = append(e.kinds, k.err)
			}
		}
	}
	return v, e
}

// childMaxStack is the child's goroutine stack limit: no parser needs more
// than a few megabytes for a bounded CMS (ber.go), and a runaway recursion
// then ends the child quickly instead of growing towards 1 GB.
const childMaxStack = 64 << 20

// ServeVerifyChild is the body of the `sohoa verify-child` process: it reads
// one request from in, sets its address-space and stack limits, verifies
// the PDF and writes the verdict to out.
func ServeVerifyChild(in io.Reader, out io.Writer) error {
	var req childVerifyRequest
	if err := gob.NewDecoder(in).Decode(&req); err != nil {
		return fmt.Errorf("verify child: read request: %w", err)
	}
	if req.MemoryLimit > 0 {
		size, err := addressSpace()
		if err != nil {
			return fmt.Errorf("verify child: %w", err)
		}
		lim := syscall.Rlimit{Cur: size + req.MemoryLimit, Max: size + req.MemoryLimit}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			return fmt.Errorf("verify child: set RLIMIT_AS to %d bytes: %w", lim.Cur, err)
		}
	}
	debug.SetMaxStack(childMaxStack)
	pool := func(ders [][]byte) (*x509.CertPool, error) {
		if len(ders) == 0 {
			return nil, nil
		}
		p := x509.NewCertPool()
		for _, d := range ders {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				return nil, fmt.Errorf("verify child: trusted root: %w", err)
			}
			p.AddCert(c)
		}
		return p, nil
	}
	roots, err := pool(req.Roots)
	if err != nil {
		return err
	}
	tsa, err := pool(req.TSARoots)
	if err != nil {
		return err
	}
	v, verr := Verify(req.PDF, VerifyOptions{Roots: roots, TSARoots: tsa, RequireTimestamp: req.RequireTimestamp,
		AllowAnyEKU: req.AllowAnyEKU, Now: req.Now})
	resp := childVerifyResponse{Verdict: wireVerdict{Valid: v.Valid, Reasons: v.Reasons, Signer: v.Signer,
		SigningTime: v.SigningTime, Timestamp: v.Timestamp, SubFilter: v.SubFilter, ByteRange: v.ByteRange,
		SignerCertSHA256: v.SignerCertSHA256, SignedSHA256: v.SignedSHA256, ResultCode: v.ResultCode}}
	if verr != nil {
		resp.ErrMsg = verr.Error()
		for _, k := range childErrKinds {
			if errors.Is(verr, k.err) {
				resp.ErrKinds = append(resp.ErrKinds, k.kind)
			}
		}
	}
	if err := gob.NewEncoder(out).Encode(&resp); err != nil {
		return fmt.Errorf("verify child: write response: %w", err)
	}
	return nil
}

// addressSpace is the bytes of address space this process has mapped
// (the first field of /proc/self/statm, in pages).
func addressSpace() (uint64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("read own address-space size: %w", err)
	}
	f, _, _ := strings.Cut(string(b), " ")
	pages, err := strconv.ParseUint(f, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read own address-space size: %q: %w", b, err)
	}
	return pages * uint64(os.Getpagesize()), nil
}

// limitedWriter keeps at most n bytes and fails past them.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, errors.New("verify child: response too large")
	}
	l.n -= len(p)
	return l.w.Write(p)
}

// headBuffer keeps the first max bytes written (a runtime fatal error says
// what it is on its first line).
type headBuffer struct {
	buf bytes.Buffer
	max int
}

func (t *headBuffer) Write(p []byte) (int, error) {
	if room := t.max - t.buf.Len(); room > 0 {
		t.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (t *headBuffer) firstLine() string {
	line, _, _ := bytes.Cut(t.buf.Bytes(), []byte("\n"))
	return string(line)
}
