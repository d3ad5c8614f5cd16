package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure a bench run.
type Options struct {
	// Exe is the sohoa binary the pipeline runs from (serve, worker,
	// extract).
	Exe string
	// Corpus folders: every scan in them is one input of every tool.
	Corpus []string
	// Out receives results.md, results.json and the plots; Work is
	// scratch space (page images, logs, OCRmyPDF output).
	Out, Work string
	// Rounds of every tool, paired (each round runs them all, in an order
	// that rotates; 0: only the memory phases); OCRmyPDFRounds of OCRmyPDF
	// (it is slow), at most Rounds.
	Rounds, OCRmyPDFRounds int
	// Parallel is how many files the command-line tools process at once
	// (2: the pipeline's two OCR children).
	Parallel int
	// Workers are the worker counts of the scaling phases, e.g. {1, 2};
	// the first is the pipeline the ratios use.
	Workers []int
	// DossierPages is the page count of each generated dossier (bitonal
	// and colour) of the memory phase; 0 skips it. Uploads concurrent
	// uploads of UploadMB MB each make the upload memory phase; 0 skips it.
	DossierPages      int
	Uploads, UploadMB int
	// Env is the environment of the processes the bench starts (the local
	// stack's settings), Token the intake bearer token, RedisDB the Redis
	// database the pipeline phases use, which Flush empties before each.
	Env     []string
	Token   string
	RedisDB int
	Flush   func(ctx context.Context) error
	// StackPIDs are the processes of the services the pipeline uses (the
	// S3 server, Redis), whose CPU a pipeline run reports apart (StackCPU):
	// on the same cores it is time the OCR children do not get.
	StackPIDs []int
	// Command is the command line that made the run, for the report.
	Command string
	Log     *slog.Logger
}

// Measure is one run of one tool over the corpus (or one memory phase).
type Measure struct {
	Wall, CPU float64 // seconds; CPU is user + system of the tool's processes
	Pages     int
	// PeakSelf is the peak RSS of the main process (the worker; serve in
	// the upload phase), PeakChildren the largest of its children's (OCR
	// children, or the command-line tool's), PeakSum the sum of every
	// process's peak (an upper bound of the whole), PeakLive the largest
	// sum of their resident memory at one instant (sampled every 100 ms),
	// PeakLivePSS the same of their proportional sets (the executable's
	// and libraries' shared pages counted once).
	PeakSelf, PeakChildren, PeakSum, PeakLive, PeakLivePSS int64
	Failed                                                 int
	// Children is the number of the workers' direct child processes (the
	// OCR children, which live as long as their worker) at the end of a
	// pipeline run: with the ocr_child_busy
	// stage, how busy they were.
	Children int `json:",omitempty"`
	// ServeCPU is the CPU the intake server (serve) used meanwhile, in
	// pipeline runs: uploads, status answers; not counted in CPU.
	ServeCPU float64 `json:",omitempty"`
	// StackCPU is the CPU the S3 server and Redis used meanwhile
	// (Options.StackPIDs), not counted in CPU either.
	StackCPU float64        `json:",omitempty"`
	States   map[string]int `json:",omitempty"`
	Stages   stageSums      `json:",omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Started   time.Time
	Command   string
	Host      string
	Load      string // /proc/loadavg at start
	Files     int
	Pages     int
	Corpus    []string
	Runs      map[string][]Measure // tool -> one Measure per round
	Dossier   *Measure             `json:",omitempty"`
	Uploads   *Measure             `json:",omitempty"`
	Notes     []string
	OCRmyPDF  string // version, or why it did not run
	Tesseract string
}

// Tools, as the report names them.
const (
	ToolTesseract     = "tesseract"
	ToolTesseractPSM1 = "tesseract --psm 1"
	ToolExtract       = "sohoa extract"
	ToolOCRmyPDF      = "ocrmypdf"
)

// ToolPipeline names the pipeline with n workers.
func ToolPipeline(n int) string { return fmt.Sprintf("pipeline, %d worker(s)", n) }

type runner struct {
	o      Options
	log    *slog.Logger
	files  []scanFile
	pages  []string
	seq    int // phases started, for unique buckets and tags
	stamp  string
	imgs   []*image.RGBA // corpus pages at A4 200 dpi, for generated scans
	warmup [][]byte      // one-page scans that warm a worker up
}

// Run measures, writes the report into o.Out and returns it.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.Rounds = max(o.Rounds, 0) // 0: the memory phases only
	o.OCRmyPDFRounds = min(max(o.OCRmyPDFRounds, 0), o.Rounds)
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	if len(o.Workers) == 0 {
		o.Workers = []int{1, 2}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	r := &runner{o: o, log: o.Log, stamp: time.Now().UTC().Format("20060102t150405")}
	rep := &Report{Started: time.Now().UTC(), Command: o.Command, Corpus: o.Corpus, Runs: map[string][]Measure{}}
	rep.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.Load = strings.TrimSpace(string(b))
	}
	for _, d := range []string{o.Out, o.Work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	var err error
	if r.files, err = loadCorpus(ctx, o.Corpus); err != nil {
		return nil, err
	}
	pageDir := filepath.Join(o.Work, "pages")
	_ = os.RemoveAll(pageDir)
	if err := os.MkdirAll(pageDir, 0o755); err != nil {
		return nil, err
	}
	if r.pages, err = writePages(ctx, r.files, pageDir); err != nil {
		return nil, err
	}
	rep.Files, rep.Pages = len(r.files), len(r.pages)
	rep.Tesseract = toolVersion("tesseract", "--version")
	rep.OCRmyPDF = toolVersion("ocrmypdf", "--version")
	if r.imgs, err = samplePages(ctx, r.files, 12); err != nil {
		return nil, err
	}
	for i := range min(4, len(r.imgs)) {
		pdf, err := onePagePDF(r.imgs[i], "warm")
		if err != nil {
			return nil, err
		}
		r.warmup = append(r.warmup, pdf)
	}
	r.log.Info("bench corpus", "files", rep.Files, "pages", rep.Pages, "load", rep.Load)

	tools := []string{ToolTesseract, ToolTesseractPSM1, ToolExtract}
	for _, n := range o.Workers {
		tools = append(tools, ToolPipeline(n))
	}
	if rep.OCRmyPDF != "" && !strings.HasPrefix(rep.OCRmyPDF, "not installed") {
		tools = append(tools, ToolOCRmyPDF)
	}
	for round := range o.Rounds {
		// Rotate the order so no tool always runs first (or last) in a
		// round: drifting load then spreads over all of them.
		order := append(slices.Clone(tools[round%len(tools):]), tools[:round%len(tools)]...)
		for _, tool := range order {
			if tool == ToolOCRmyPDF && round >= o.OCRmyPDFRounds {
				continue
			}
			r.log.Info("bench run", "round", round+1, "tool", tool)
			m, err := r.runTool(ctx, tool)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", round+1, tool, err)
			}
			r.log.Info("bench result", "round", round+1, "tool", tool, "wall_s", round2(m.Wall), "cpu_s", round2(m.CPU),
				"peak_self_mib", m.PeakSelf>>20, "peak_children_mib", m.PeakChildren>>20, "failed", m.Failed, "states", m.States)
			rep.Runs[tool] = append(rep.Runs[tool], m)
		}
	}
	if o.DossierPages > 0 {
		r.log.Info("bench memory: generated dossiers", "pages", o.DossierPages)
		m, err := r.dossiers(ctx)
		if err != nil {
			rep.Notes = append(rep.Notes, "dossier phase failed: "+err.Error())
		} else {
			rep.Dossier = &m
		}
	}
	if o.Uploads > 0 {
		r.log.Info("bench memory: concurrent uploads", "uploads", o.Uploads, "mb", o.UploadMB)
		m, err := r.uploads(ctx)
		if err != nil {
			rep.Notes = append(rep.Notes, "upload phase failed: "+err.Error())
		} else {
			rep.Uploads = &m
		}
	}
	if err := writeReport(o.Out, rep, o.Workers); err != nil {
		return rep, err
	}
	return rep, nil
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

// toolVersion is the first line of `name args`, or why there is none.
func toolVersion(name string, args ...string) string {
	if _, err := exec.LookPath(name); err != nil {
		return "not installed"
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "not runnable: " + err.Error()
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

func (r *runner) runTool(ctx context.Context, tool string) (Measure, error) {
	switch tool {
	case ToolTesseract, ToolTesseractPSM1:
		var cmds [][]string
		for _, p := range r.pages {
			c := []string{"tesseract", p, "-", "-l", "vie"}
			if tool == ToolTesseractPSM1 {
				c = append(c, "--psm", "1")
			}
			cmds = append(cmds, c)
		}
		m, err := r.runCommands(ctx, cmds)
		m.Pages = len(r.pages)
		return m, err
	case ToolExtract:
		var cmds [][]string
		for _, f := range r.files {
			cmds = append(cmds, []string{r.o.Exe, "extract", "--json", f.Path})
		}
		m, err := r.runCommands(ctx, cmds)
		m.Pages = len(r.pages)
		return m, err
	case ToolOCRmyPDF:
		dir := filepath.Join(r.o.Work, "ocrmypdf")
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Measure{}, err
		}
		var cmds [][]string
		for i, f := range r.files {
			cmds = append(cmds, []string{"ocrmypdf", "-l", "vie", "--rotate-pages", "--deskew", "--jobs", "1", "--quiet",
				"--image-dpi", "200", f.Path, filepath.Join(dir, fmt.Sprintf("%03d.pdf", i))})
		}
		m, err := r.runCommands(ctx, cmds)
		m.Pages = len(r.pages)
		return m, err
	}
	for _, n := range r.o.Workers {
		if tool == ToolPipeline(n) {
			return r.pipeline(ctx, n)
		}
	}
	return Measure{}, fmt.Errorf("unknown tool %q", tool)
}

// runCommands runs cmds, Parallel at a time, and measures them from their
// rusage (each process and the children it waited for).
func (r *runner) runCommands(ctx context.Context, cmds [][]string) (Measure, error) {
	var (
		mu sync.Mutex
		m  Measure
		wg sync.WaitGroup
	)
	sem := make(chan struct{}, r.o.Parallel)
	start := time.Now()
	for _, c := range cmds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cmd := exec.CommandContext(ctx, c[0], c[1:]...)
			cmd.Env = append(slices.Clone(r.o.Env), "OMP_THREAD_LIMIT=1")
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			err := cmd.Run()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				m.Failed++
				r.log.Debug("bench command failed", "cmd", strings.Join(c, " "), "err", err)
			}
			if cmd.ProcessState == nil {
				return
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				m.CPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
				m.PeakChildren = max(m.PeakChildren, ru.Maxrss<<10)
			}
		})
	}
	wg.Wait()
	m.Wall = time.Since(start).Seconds()
	m.PeakSum = m.PeakChildren
	return m, ctx.Err()
}

// freeAddr is a loopback address nobody listens on (now).
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// stack is one serve and its workers on a fresh bucket and Redis database.
type stack struct {
	r       *runner
	intake  string
	serve   *exec.Cmd
	workers []*exec.Cmd
	ops     []string // the workers' operations listeners
	tag     string
}

func (r *runner) startStack(ctx context.Context, workers int, extraEnv ...string) (*stack, error) {
	r.seq++
	tag := fmt.Sprintf("%s-%d", r.stamp, r.seq)
	if r.o.Flush != nil {
		if err := r.o.Flush(ctx); err != nil {
			return nil, fmt.Errorf("flush the bench Redis database: %w", err)
		}
	}
	intake, err := freeAddr()
	if err != nil {
		return nil, err
	}
	ops, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := append(slices.Clone(r.o.Env),
		"SOHOA_S3_BUCKET=bench-"+tag, "SOHOA_S3_CREATE=true", fmt.Sprintf("SOHOA_REDIS_DB=%d", r.o.RedisDB),
		"SOHOA_INTAKE_ADDR="+intake, "SOHOA_OPS_ADDR="+ops, "SOHOA_API_ADDR=", "SOHOA_LOG_LEVEL=info")
	env = append(env, extraEnv...)
	s := &stack{r: r, intake: intake, tag: tag}
	logDir := filepath.Join(r.o.Work, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	start := func(name string, env []string, args ...string) (*exec.Cmd, error) {
		lf, err := os.Create(filepath.Join(logDir, fmt.Sprintf("%s-%s.log", tag, name)))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(r.o.Exe, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, lf, lf
		if err := cmd.Start(); err != nil {
			lf.Close()
			return nil, err
		}
		go func() { _ = cmd.Wait(); lf.Close() }()
		return cmd, nil
	}
	if s.serve, err = start("serve", env, "serve"); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, "http://"+intake+"/healthz", 90*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("serve did not come up (logs in %s): %w", logDir, err)
	}
	for i := range workers {
		addr, err := freeAddr()
		if err != nil {
			s.stop()
			return nil, err
		}
		w, err := start(fmt.Sprintf("worker%d", i+1), append(slices.Clone(env), "SOHOA_WORKER_OPS_ADDR="+addr), "worker")
		if err != nil {
			s.stop()
			return nil, err
		}
		s.workers, s.ops = append(s.workers, w), append(s.ops, addr)
		if err := waitHTTP(ctx, "http://"+addr+"/healthz", 90*time.Second); err != nil {
			s.stop()
			return nil, fmt.Errorf("worker did not come up (logs in %s): %w", logDir, err)
		}
	}
	return s, nil
}

func (s *stack) stop() {
	for _, c := range append(slices.Clone(s.workers), s.serve) {
		if c != nil && c.Process != nil {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range append(slices.Clone(s.workers), s.serve) {
		if c == nil || c.Process == nil {
			continue
		}
		for c.ProcessState == nil && time.Now().Before(deadline) && syscall.Kill(c.Process.Pid, 0) == nil {
			time.Sleep(100 * time.Millisecond)
		}
		_ = c.Process.Kill()
	}
}

func (s *stack) workerPIDs() []int {
	var out []int
	for _, w := range s.workers {
		out = append(out, w.Process.Pid)
	}
	return out
}

func (s *stack) stages(ctx context.Context) stageSums {
	total := stageSums{}
	for _, a := range s.ops {
		st, err := scrapeStages(ctx, a)
		if err != nil {
			s.r.log.Warn("bench: scrape worker metrics", "err", err)
			continue
		}
		total = total.add(st)
	}
	return total
}

func waitHTTP(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not up after %s (last: %v)", url, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// submission is what the intake answered for one file.
type submission struct {
	InputKey string `json:"input_key"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
}

// upload sends one file in a batch of its own and returns its input key.
func (s *stack) upload(ctx context.Context, name string, body io.Reader) (string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("files", name)
		if err == nil {
			_, err = io.Copy(fw, body)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.intake+"/v1/batches", pr)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+s.r.o.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", name, err)
	}
	defer resp.Body.Close()
	var br struct {
		Files []submission `json:"files"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
		return "", fmt.Errorf("upload %s: %s: %w", name, resp.Status, err)
	}
	if len(br.Files) != 1 || br.Files[0].InputKey == "" {
		return "", fmt.Errorf("upload %s: %s %+v", name, resp.Status, br.Files)
	}
	return br.Files[0].InputKey, nil
}

// state is an input's state as GET /v1/inputs/{key} says it.
func (s *stack) state(ctx context.Context, key string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.intake+"/v1/inputs/"+key, nil)
	req.Header.Set("Authorization", "Bearer "+s.r.o.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var st struct {
		State string `json:"state"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status of %s: %s", key, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return "", err
	}
	return st.State, nil
}

// settle waits until every key is final (not processing) and returns the
// states and when the last one settled. It polls one key at a time, the
// oldest still open, every settlePoll: the last key to settle is seen within
// a poll of settling (every earlier one is final by then and answers at
// once; the wall time can only come out longer), and the measurement hardly
// loads the stack it measures (polling every open key four times a second
// was over a hundred status reads a second, each reading several objects
// from S3, on the cores the OCR children use; one read costs serve and the
// S3 server about 8 CPU-ms together).
// settlePoll is how often settle reads the status of the oldest open key:
// at most a quarter second added to a phase of 20 s or more.
const settlePoll = 250 * time.Millisecond

func (s *stack) settle(ctx context.Context, keys <-chan string, limit time.Duration) (map[string]int, time.Time, error) {
	deadline := time.Now().Add(limit)
	var open []string
	states := map[string]int{}
	var last time.Time
	more := true
	for more || len(open) > 0 {
		if len(open) == 0 {
			select {
			case k, ok := <-keys:
				if !ok {
					more = false
					continue
				}
				open = append(open, k)
			case <-ctx.Done():
				return states, last, ctx.Err()
			}
		}
	drain:
		for more {
			select {
			case k, ok := <-keys:
				if !ok {
					more = false
					break drain
				}
				open = append(open, k)
			default:
				break drain
			}
		}
		if st, err := s.state(ctx, open[0]); err == nil && st != "" && st != "processing" {
			open = open[1:]
			states[st]++
			last = time.Now()
			continue
		}
		if time.Now().After(deadline) {
			return states, last, fmt.Errorf("%d inputs still processing after %s", len(open), limit)
		}
		select {
		case <-ctx.Done():
			return states, last, ctx.Err()
		case <-time.After(settlePoll):
		}
	}
	return states, last, nil
}

// warm uploads two unique one-page scans per worker and waits for them:
// the workers and their OCR children are started and their models loaded.
func (s *stack) warm(ctx context.Context, samples [][]byte) error {
	keys := make(chan string, 16)
	var errs []error
	for i := range 2 * len(s.workers) {
		data := append(slices.Clone(samples[i%len(samples)]), fmt.Appendf(nil, "%% warm %s %d\n", s.tag, i)...)
		k, err := s.upload(ctx, fmt.Sprintf("warm-%d.pdf", i), bytes.NewReader(data))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys <- k
	}
	close(keys)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	_, _, err := s.settle(ctx, keys, 5*time.Minute)
	return err
}

// pipeline measures the corpus through serve and n workers: from the first
// upload to the last input settled (issued, review, kept, …), with the
// workers' and their OCR children's CPU time and peak memory.
func (r *runner) pipeline(ctx context.Context, n int) (Measure, error) {
	s, err := r.startStack(ctx, n)
	if err != nil {
		return Measure{}, err
	}
	defer s.stop()
	if err := s.warm(ctx, r.warmup); err != nil {
		return Measure{}, fmt.Errorf("warm up: %w", err)
	}
	return r.measureStack(ctx, s, func(ctx context.Context, keys chan<- string) error {
		for _, f := range r.files {
			k, err := s.upload(ctx, filepath.Base(f.Path), bytes.NewReader(f.Data))
			if err != nil {
				return err
			}
			keys <- k
		}
		return nil
	}, len(r.pages), 20*time.Minute)
}

func (r *runner) measureStack(ctx context.Context, s *stack, send func(context.Context, chan<- string) error, pages int, limit time.Duration) (Measure, error) {
	pids := s.workerPIDs()
	resetPeak(pids...)
	stopSampling := sampleMem(100*time.Millisecond, pids...)
	defer stopSampling()
	cpu0, _ := treeCPU(pids...)
	serve0, _ := treeCPU(s.serve.Process.Pid)
	stack0, _ := treeCPU(s.r.o.StackPIDs...)
	st0 := s.stages(ctx)
	keys := make(chan string, 1024)
	start := time.Now()
	sendErr := make(chan error, 1)
	go func() {
		defer close(keys)
		sendErr <- send(ctx, keys)
	}()
	states, last, err := s.settle(ctx, keys, limit)
	if serr := <-sendErr; serr != nil {
		return Measure{}, serr
	}
	if err != nil {
		return Measure{}, err
	}
	cpu1, _ := treeCPU(pids...)
	serve1, _ := treeCPU(s.serve.Process.Pid)
	stack1, _ := treeCPU(s.r.o.StackPIDs...)
	live := stopSampling()
	m := Measure{Wall: last.Sub(start).Seconds(), CPU: cpu1 - cpu0, ServeCPU: serve1 - serve0, StackCPU: stack1 - stack0, Pages: pages, States: states, Stages: s.stages(ctx).minus(st0),
		PeakLive: live.RSS, PeakLivePSS: live.PSS}
	procs := readProcs()
	for _, pid := range pids {
		for _, c := range procs {
			if c.ppid == pid {
				m.Children++
			}
		}
		p := peakRSS(pid)
		m.PeakSelf = max(m.PeakSelf, p.Self)
		m.PeakChildren = max(m.PeakChildren, p.Children)
		m.PeakSum += p.Sum
	}
	return m, nil
}

// dossiers processes two generated dossiers of DossierPages pages, one
// bitonal and then one colour, through one worker, and measures its peak
// memory with its OCR children's.
func (r *runner) dossiers(ctx context.Context) (Measure, error) {
	// The default settings: the OCR budget of a file grows with its pages.
	s, err := r.startStack(ctx, 1)
	if err != nil {
		return Measure{}, err
	}
	defer s.stop()
	if err := s.warm(ctx, r.warmup); err != nil {
		return Measure{}, fmt.Errorf("warm up: %w", err)
	}
	bit := bitonalPDF(r.imgs, r.o.DossierPages, s.tag)
	col, err := colourPDF(r.imgs, r.o.DossierPages, 40, s.tag)
	if err != nil {
		return Measure{}, err
	}
	r.log.Info("bench dossiers", "pages", r.o.DossierPages, "bitonal_mb", len(bit)>>20, "colour_mb", len(col)>>20)
	m, err := r.measureStack(ctx, s, func(ctx context.Context, keys chan<- string) error {
		// One after the other: the bound is for a dossier in a worker.
		for _, d := range []struct {
			name string
			data []byte
		}{{"dossier-bitonal.pdf", bit}, {"dossier-colour.pdf", col}} {
			k, err := s.upload(ctx, d.name, bytes.NewReader(d.data))
			if err != nil {
				return err
			}
			keys <- k
			for {
				if st, err := s.state(ctx, k); err == nil && st != "" && st != "processing" {
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
				}
			}
		}
		return nil
	}, 2*r.o.DossierPages, 40*time.Minute)
	return m, err
}

// uploads sends Uploads files of UploadMB MB at once to a serve without a
// worker and measures serve's peak memory.
func (r *runner) uploads(ctx context.Context) (Measure, error) {
	s, err := r.startStack(ctx, 0)
	if err != nil {
		return Measure{}, err
	}
	defer s.stop()
	pid := s.serve.Process.Pid
	resetPeak(pid)
	stopSampling := sampleMem(100*time.Millisecond, pid)
	cpu0, _ := treeCPU(pid)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var m Measure
	m.States = map[string]int{}
	size := int64(r.o.UploadMB) * 1000 * 1000
	for i := range r.o.Uploads {
		wg.Go(func() {
			_, err := s.upload(ctx, fmt.Sprintf("big-%02d.tif", i), newNoise(uint64(r.seq)<<32|uint64(i), size))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				m.Failed++
				r.log.Warn("bench upload failed", "err", err)
				return
			}
			m.States["stored"]++
		})
	}
	wg.Wait()
	cpu1, _ := treeCPU(pid)
	p := peakRSS(pid)
	m.Wall, m.CPU = time.Since(start).Seconds(), cpu1-cpu0
	live := stopSampling()
	m.PeakSelf, m.PeakChildren, m.PeakSum, m.PeakLive, m.PeakLivePSS = p.Self, p.Children, p.Sum, live.RSS, live.PSS
	return m, nil
}
