package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/build"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sohoa/internal/testenv"
	"sohoa/ocr"
	"sohoa/ocr/tesseract"
	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/storage/s3"
)

// defaultChaosSeed is the seed of the short run in `make test`: its choices
// (which jobs, when to kill) are the same every run, so a failure there can
// be replayed with -chaos.seed. The process timing stays the machine's.
const defaultChaosSeed = 20261202

// The chaos harness (reliability.md §5, R1–R4): `make chaos` runs it with
// 1,000 jobs; `make test` with the defaults (about 100 jobs, a few faults).
var (
	chaosJobs   = flag.Int("chaos.jobs", 100, "chaos: jobs to upload")
	chaosKills  = flag.Int("chaos.kills", 4, "chaos: worker SIGKILLs")
	chaosS3Down = flag.Duration("chaos.s3-down", 15*time.Second, "chaos: how long the S3 server is stopped (longer than the retry budget the harness sets)")
	chaosDrain  = flag.Duration("chaos.drain", 5*time.Minute, "chaos: longest wait for every input to be final after the last fault")
	chaosSeed   = flag.Uint64("chaos.seed", defaultChaosSeed, "chaos: random seed (0: from the clock); `make test` keeps the fixed default so a failure reproduces")
)

// chaosProc is one process of the harness, restartable.
type chaosProc struct {
	name string
	exe  string
	args []string
	env  []string
	log  *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *chaosProc) start(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.exe, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
}

// signal sends sig and waits (up to 40 s, then SIGKILL) for the end.
func (p *chaosProc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// chaosJob is one upload of the ledger.
type chaosJob struct {
	name    string
	data    []byte
	key     string
	dossier string
	acked   time.Time
	tries   int
}

func freePort(t *testing.T) string { return strings.TrimPrefix(freeAddr(t), "127.0.0.1:") }

// versitygwPath finds the S3 server deploy/local/deps.sh installs.
func versitygwPath(t *testing.T) string {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if p := filepath.Join(build.Default.GOPATH, "bin", "versitygw"); fileExists(p) {
		return p
	}
	return testenv.MustHaveExecPath(t, "versitygw")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// writeCannedAnswers makes the stand-in OCR's answers: nine of ten inputs
// read as the synthetic two-document dossier of pipeline/testdata (an
// application form, kept, and a marital status certificate, issued), one
// in ten as unreadable (quarantined).
func writeCannedAnswers(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("../../pipeline/testdata/dossier.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Pages []struct {
			Number int    `json:"number"`
			Text   string `json:"text"`
		} `json:"pages"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, 1654, 2339))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for x := 100; x < 1500; x++ {
		img.SetGray(x, 300, color.Gray{})
	}
	var pngData bytes.Buffer
	if err := png.Encode(&pngData, img); err != nil {
		t.Fatal(err)
	}
	var a tesseract.CannedAnswer
	for _, p := range f.Pages {
		pg := ocr.Page{Number: p.Number, Text: p.Text, Confidence: 0.95, Width: 1654, Height: 2339, DPI: 200}
		for li, line := range strings.Split(p.Text, "\n") {
			x := 100
			for _, w := range strings.Fields(line) {
				pg.Words = append(pg.Words, ocr.Word{Text: w, Conf: 0.95, Line: li,
					Box: image.Rect(x, 100+li*40, x+20*len([]rune(w)), 130+li*40)})
				x += 20*len([]rune(w)) + 15
			}
		}
		a.Pages = append(a.Pages, pg)
		a.Images = append(a.Images, tesseract.CannedPage{Number: p.Number, Data: pngData.Bytes(), Format: "png", DPI: 200})
	}
	for i := range 9 {
		if err := tesseract.WriteCannedAnswer(dir, fmt.Sprintf("dossier-%d", i), a); err != nil {
			t.Fatal(err)
		}
	}
	bad := tesseract.CannedAnswer{ErrKind: "unreadable", ErrMsg: "not an image (canned)"}
	if err := tesseract.WriteCannedAnswer(dir, "unreadable", bad); err != nil {
		t.Fatal(err)
	}
}

// TestChaos is the chaos harness: jobs uploaded through a real `sohoa
// serve` to two `sohoa worker` processes (stand-in OCR children that answer
// from canned OCR, under the same supervision), on a Redis and an S3 server
// of its own, while it SIGKILLs workers at random moments, kills and
// restarts Redis, flushes it, and stops the S3 server for longer than the
// retry budget. Then, from S3 alone, it checks reliability.md §5: every
// acknowledged input in a final state, every expected result filed once
// (one version of every object), no dossier code handed out twice. Its last
// line is the summary the README quotes.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos harness")
	}
	redisExe := testenv.MustHaveExecPath(t, "redis-server")
	gw := versitygwPath(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seed := *chaosSeed
	if seed == 0 { // make chaos: a new draw each run, logged to replay it

		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("chaos: seed %d", seed)

	root := t.TempDir()
	for _, d := range []string{"redis", "s3/data", "s3/versions", "keys", "canned", "logs"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeCannedAnswers(t, filepath.Join(root, "canned"))
	logFile := func(name string) *os.File {
		f, err := os.Create(filepath.Join(root, "logs", name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	redisPort, s3Port, intakeAddr := freePort(t), freePort(t), freeAddr(t)
	const s3Access, s3Secret = "chaos-access", "chaos-secret-0123456789"
	redisProc := &chaosProc{name: "redis", exe: redisExe, log: logFile("redis"), env: os.Environ(), args: []string{
		"--bind", "127.0.0.1", "--port", redisPort, "--dir", filepath.Join(root, "redis"),
		"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction", "--save", ""}}
	s3Proc := &chaosProc{name: "s3", exe: gw, log: logFile("versitygw"),
		env: append(os.Environ(), "ROOT_ACCESS_KEY="+s3Access, "ROOT_SECRET_KEY="+s3Secret),
		args: []string{"--port", "127.0.0.1:" + s3Port, "--health", "/health", "posix",
			"--versioning-dir", filepath.Join(root, "s3/versions"), filepath.Join(root, "s3/data")}}
	var procs []*chaosProc
	t.Cleanup(func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].signal(syscall.SIGKILL)
		}
		if t.Failed() {
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("sohoa-chaos-%d", seed))
			if err := os.CopyFS(keep, os.DirFS(filepath.Join(root, "logs"))); err == nil {
				t.Logf("chaos: logs kept in %s", keep)
			}
			// The S3 server's files, with their extended attributes
			// (versitygw keeps its metadata there), for a post-mortem.
			if err := os.Rename(filepath.Join(root, "s3"), filepath.Join(keep, "s3")); err == nil {
				t.Logf("chaos: S3 data kept in %s", filepath.Join(keep, "s3"))
			}
		}
	})
	waitOK := func(what string, ok func() bool) {
		t.Helper()
		for range 300 {
			if ok() {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("chaos: %s did not come up", what)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + redisPort})
	defer rdb.Close()
	redisUp := func() bool { return rdb.Ping(context.Background()).Err() == nil }
	s3Up := func() bool {
		r, err := http.Get("http://127.0.0.1:" + s3Port + "/health")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	}
	redisProc.start(t)
	procs = append(procs, redisProc)
	waitOK("redis", redisUp)
	s3Proc.start(t)
	procs = append(procs, s3Proc)
	waitOK("versitygw", s3Up)

	env := map[string]string{
		"SOHOA_DEV": "1", "SOHOA_KEYS_DIR": filepath.Join(root, "keys"),
		"SOHOA_REDIS_ADDR": "127.0.0.1:" + redisPort, "SOHOA_REDIS_DB": "0",
		"SOHOA_S3_ENDPOINT": "127.0.0.1:" + s3Port, "SOHOA_S3_ACCESS_KEY": s3Access, "SOHOA_S3_SECRET_KEY": s3Secret,
		"SOHOA_S3_BUCKET": "chaos", "SOHOA_INTAKE_ADDR": intakeAddr, "SOHOA_API_ADDR": "",
		"SOHOA_INTAKE_TOKEN": testIntakeToken, "SOHOA_INTAKE_FILES_PER_MINUTE": "0",
		"SOHOA_OCR_CANNED": filepath.Join(root, "canned"), "SOHOA_OCR_CHILDREN": "1", "SOHOA_WORKER_CONCURRENCY": "2",
		// A small retry budget (2 s + 2 s + 2 s), so an S3 outage of
		// chaos.s3-down outlasts it; a short reconcile period and
		// cool-down, so the run stays short.
		"SOHOA_TASK_MAX_RETRY": "3", "SOHOA_RETRY_MAX_DELAY": "2s",
		"SOHOA_RECONCILE_EVERY": "2s", "SOHOA_RECONCILE_COOLDOWN": "5s", "SOHOA_RECONCILE_FULL_EVERY": "1m",
		"SOHOA_LOG_LEVEL": "info", "SOHOA_VERIFY_BASE_URL": "https://127.0.0.1:18443",
		"SOHOA_OPS_ADDR": "0", "SOHOA_WORKER_OPS_ADDR": "0",
	}
	envList := func(local string) []string {
		out := append(os.Environ(), testMainEnv+"=1", "SOHOA_LOCAL_DIR="+filepath.Join(root, local))
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		return out
	}
	serve := &chaosProc{name: "serve", exe: exe, args: []string{"serve"}, env: envList("serve"), log: logFile("serve")}
	serve.start(t)
	procs = append(procs, serve)
	base := "http://" + intakeAddr
	waitOK("serve", func() bool {
		r, err := http.Get(base + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil && r.StatusCode == http.StatusNoContent
	})
	workers := []*chaosProc{
		{name: "worker-1", exe: exe, args: []string{"worker"}, env: envList("worker-1"), log: logFile("worker-1")},
		{name: "worker-2", exe: exe, args: []string{"worker"}, env: envList("worker-2"), log: logFile("worker-2")},
	}
	for _, w := range workers {
		w.start(t)
		procs = append(procs, w)
	}

	// The jobs: distinct files the stand-in OCR answers by their hash.
	jobs := make([]*chaosJob, *chaosJobs)
	for i := range jobs {
		jobs[i] = &chaosJob{name: fmt.Sprintf("job-%04d.png", i), data: fmt.Appendf(nil, "chaos job %d seed %d %x", i, seed, rng.Uint64())}
	}
	window := max(40*time.Second, time.Duration(len(jobs))*120*time.Millisecond)
	start := time.Now()

	// Submitters: batches of up to 5 files at the job rate; a file not
	// acknowledged (no input key, or refused) is sent again later.
	var ledgerMu sync.Mutex
	todo := make(chan *chaosJob, len(jobs))
	for _, j := range jobs {
		todo <- j
	}
	acked := 0
	submitCtx, stopSubmit := context.WithCancel(context.Background())
	defer stopSubmit()
	var subWG sync.WaitGroup
	interval := window / time.Duration(len(jobs)) * 5
	for range 2 {
		subWG.Add(1)
		go func() {
			defer subWG.Done()
			tick := time.NewTicker(interval * 2)
			defer tick.Stop()
			for {
				var batch []*chaosJob
			fill:
				for len(batch) < 5 {
					select {
					case j := <-todo:
						batch = append(batch, j)
					default:
						break fill
					}
				}
				if len(batch) > 0 {
					got := chaosUpload(base, batch)
					ledgerMu.Lock()
					for _, j := range batch {
						j.tries++
						if s, ok := got[j.name]; ok && s.InputKey != "" && s.Status != pipeline.StatusRejected {
							j.key, j.dossier, j.acked = s.InputKey, s.DossierCode, time.Now()
							acked++
						} else {
							todo <- j
						}
					}
					ledgerMu.Unlock()
				}
				ledgerMu.Lock()
				all := acked == len(jobs)
				ledgerMu.Unlock()
				if all {
					return
				}
				select {
				case <-submitCtx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}

	// Faults, over the upload window.
	kills, redisRestarts, flushes, outages := 0, 0, 0, 0
	type fault struct {
		at   time.Duration
		what string
	}
	var faults []fault
	for range *chaosKills {
		faults = append(faults, fault{time.Duration(rng.Int64N(int64(window))) + 3*time.Second, "kill"})
	}
	faults = append(faults, fault{window * 3 / 10, "redis-restart"}, fault{window / 2, "flushall"}, fault{window * 7 / 10, "s3-outage"})
	sort.Slice(faults, func(i, j int) bool { return faults[i].at < faults[j].at })
	var lastFault time.Time
	for _, f := range faults {
		if d := time.Until(start.Add(f.at)); d > 0 {
			time.Sleep(d)
		}
		switch f.what {
		case "kill":
			w := workers[rng.IntN(len(workers))]
			w.signal(syscall.SIGKILL)
			kills++
			time.Sleep(time.Second)
			w.start(t)
		case "redis-restart":
			redisProc.signal(syscall.SIGKILL)
			time.Sleep(2 * time.Second)
			redisProc.start(t)
			waitOK("redis after restart", redisUp)
			redisRestarts++
		case "flushall":
			if err := rdb.FlushAll(context.Background()).Err(); err != nil {
				t.Fatalf("chaos: FLUSHALL: %v", err)
			}
			flushes++
		case "s3-outage":
			t.Logf("chaos: s3 stopping at %s", time.Since(start).Round(time.Millisecond))
			s3Proc.signal(syscall.SIGTERM)
			t.Logf("chaos: s3 stopped at %s", time.Since(start).Round(time.Millisecond))
			time.Sleep(*chaosS3Down)
			s3Proc.start(t)
			waitOK("versitygw after the outage", s3Up)
			outages++
		}
		lastFault = time.Now()
		t.Logf("chaos: %s at %s", f.what, time.Since(start).Round(time.Millisecond))
	}

	// Every job acknowledged, then every input final.
	deadline := lastFault.Add(*chaosDrain)
	for {
		ledgerMu.Lock()
		n := acked
		ledgerMu.Unlock()
		if n == len(jobs) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	stopSubmit()
	subWG.Wait()

	cfg, err := newFlagSet("chaos", "", environFrom(envList("check")), io.Discard, ^group(0)).parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, err := openRepository(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]pipeline.InputState{}
	var lastFinal time.Time
	for {
		open := 0
		for _, j := range jobs {
			if j.key == "" {
				continue
			}
			if st, ok := states[j.key]; ok && st.Final {
				continue
			}
			st, err := pipeline.StateOf(ctx, repo, j.key)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("chaos: state of %s: %v", j.key, err)
			}
			states[j.key] = st
			if st.Final {
				lastFinal = time.Now()
			} else {
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}

	// The invariants, from S3 alone.
	lost, duplicated, stuck := 0, 0, 0
	outcome := map[string]int{}
	codes := map[string]string{} // dossier code -> batch ID
	for _, j := range jobs {
		if j.key == "" {
			continue // never acknowledged: not the system's to keep
		}
		st := states[j.key]
		outcome[st.State]++
		switch {
		case st.Intake.Meta.UploadedAt.IsZero():
			lost++
			t.Errorf("chaos: lost: %s (%s) acknowledged, nothing stored", j.name, j.key)
		case !st.Final:
			stuck++
			t.Errorf("chaos: stuck: %s (%s) is %s, needs %v", j.name, j.key, st.State, st.Needs)
		}
		if st.State == pipeline.StateIssued && len(st.Results) != len(st.ToIssue) {
			duplicated++
			t.Errorf("chaos: %s has %d results for %d documents", j.key, len(st.Results), len(st.ToIssue))
		}
		// One batch is one dossier: its files share a code, and no other
		// batch may hold it (the batch is the one the stored metadata names).
		if batch := st.Intake.Meta.BatchID; batch != "" && j.dossier != "" {
			if other, ok := codes[j.dossier]; ok && other != batch {
				duplicated++
				t.Errorf("chaos: dossier code %s handed out to batch %s and batch %s (%s)", j.dossier, other, batch, j.key)
			}
			codes[j.dossier] = batch
		}
		if st.Intake.Meta.DossierCode != "" && st.Intake.Meta.DossierCode != j.dossier {
			duplicated++
			t.Errorf("chaos: %s was answered dossier code %s but holds %s", j.key, j.dossier, st.Intake.Meta.DossierCode)
		}
	}
	b, ok := repo.Bucket().(*s3.Bucket)
	if !ok {
		t.Fatal("chaos: repository not on S3")
	}
	// Each stored version once: versitygw repeats one listing entry per
	// page (s3.Bucket.ObjectVersions), which is not a second write.
	stored, repeats, err := b.ObjectVersions(ctx, "", 0)
	if err != nil {
		t.Fatalf("chaos: list versions: %v", err)
	}
	versions := map[string]int{}
	for k, vs := range stored {
		versions[k] = len(vs)
		if len(vs) < 2 {
			continue
		}
		// The versions of a key written twice, with their times relative
		// to the run (the faults are logged with theirs).
		for _, o := range vs {
			t.Logf("chaos: versions of %s: id=%s size=%d modified=%s (+%s)",
				k, o.VersionID, o.Size, o.ModTime.Format(time.RFC3339Nano), o.ModTime.Sub(start).Round(time.Millisecond))
		}
	}
	t.Logf("chaos: the version listing repeated %d entries (page boundaries), not counted", repeats)
	// reliability.md §5: a duplicate is a second version of a result
	// object or of one of its lookups. Other objects written twice are
	// reported (a create-once write the S3 server let through twice).
	otherVersions := 0
	for k, n := range versions {
		switch {
		case n <= 1:
		case strings.HasPrefix(k, "results/"), strings.HasPrefix(k, "index/"), strings.HasPrefix(k, "inputs/"),
			strings.HasPrefix(k, "codes/"), strings.HasPrefix(k, "sha256/"), strings.HasPrefix(k, "events/"):
			duplicated++
			t.Errorf("chaos: %s has %d versions", k, n)
		default:
			otherVersions++
			t.Logf("chaos: %s has %d versions (not a result object)", k, n)
		}
	}
	recognitions := 0
	for _, w := range workers {
		body, _ := os.ReadFile(w.log.Name())
		recognitions += bytes.Count(body, []byte(`"msg":"ocr done"`))
	}
	recovered := time.Duration(0)
	if lastFinal.After(lastFault) {
		recovered = lastFinal.Sub(lastFault)
	}
	ledgerMu.Lock()
	notAcked := len(jobs) - acked
	ledgerMu.Unlock()
	t.Logf("chaos: outcomes %v; %d recognitions for %d inputs; %d objects (%d other objects with 2 versions); %d jobs never acknowledged; run %s",
		outcome, recognitions, len(states), len(versions), otherVersions, notAcked, time.Since(start).Round(time.Second))
	if notAcked > 0 {
		t.Errorf("chaos: %d jobs never acknowledged within the drain", notAcked)
	}
	if kills < *chaosKills || redisRestarts != 1 || flushes != 1 || outages != 1 {
		t.Errorf("chaos: faults injected %d/%d/%d/%d", kills, redisRestarts, flushes, outages)
	}
	summary := fmt.Sprintf("chaos: jobs=%d kills=%d redis_restarts=%d redis_flushes=%d s3_outages=%d lost=%d duplicated=%d stuck=%d recovered_in=%ds",
		len(jobs), kills, redisRestarts, flushes, outages, lost, duplicated, stuck, int(recovered.Round(time.Second).Seconds()))
	t.Log(summary)
	fmt.Println(summary)
}

// chaosUpload posts one batch; it returns the per-file answers by name
// (none when the request failed).
func chaosUpload(base string, batch []*chaosJob) map[string]pipeline.Submission {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, j := range batch {
		fw, err := mw.CreateFormFile("file", j.name)
		if err != nil {
			return nil
		}
		fw.Write(j.data)
	}
	mw.Close()
	req, err := http.NewRequest("POST", base+"/v1/batches", &body)
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+testIntakeToken)
	c := http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var br pipeline.BatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
		return nil
	}
	out := map[string]pipeline.Submission{}
	for _, f := range br.Files {
		out[f.Name] = f
	}
	return out
}
