package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"

	"sohoa/api"
	"sohoa/internal/testenv"
	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/storage/s3"
)

// scaleEnv turns the scale-out test on (`make scale-test`); without it
// TestScale is skipped, in strict mode too (a plain skip, not a missing
// tool).
const scaleEnv = "SOHOA_SCALE_TEST"

// cpuMeter sums the CPU time (user + system) of processes and all their
// descendants (the OCR children run in process groups of their own), from
// /proc, sampled every 250 ms; a process that ends keeps its last sample.
type cpuMeter struct {
	mu    sync.Mutex
	roots map[int]bool
	last  map[int]float64 // pid -> seconds
	stop  chan struct{}
}

func newCPUMeter() *cpuMeter {
	m := &cpuMeter{roots: map[int]bool{}, last: map[int]float64{}, stop: make(chan struct{})}
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *cpuMeter) watch(pid int) { m.mu.Lock(); m.roots[pid] = true; m.mu.Unlock() }
func (m *cpuMeter) close()        { close(m.stop) }

// total is the CPU seconds measured so far.
func (m *cpuMeter) total() float64 {
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := 0.0
	for _, v := range m.last {
		s += v
	}
	return s
}

func (m *cpuMeter) sample() {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	cpu := map[int]float64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		parent[pid], cpu[pid] = ppid, (ut+st)/100 // USER_HZ is 100 on Linux
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for pid, c := range cpu {
		for p, hops := pid, 0; p > 1 && hops < 8; p, hops = parent[p], hops+1 {
			if m.roots[p] {
				m.last[pid] = c
				break
			}
		}
	}
}

// scaleInput is one uploaded corpus file.
type scaleInput struct {
	name  string
	pages int
	key   string
	why   string // last answer when not acknowledged
	st    pipeline.InputState
}

// TestScale is `make scale-test`: a 4-node distributed MinIO (erasure
// coded, one drive per node), one Redis, two `sohoa serve` and three
// `sohoa worker` processes on loopback, the dev corpus uploaded through both
// serves (real Tesseract, real signing). Mid-run it stops one MinIO node
// (SIGKILL, left down), SIGKILLs one worker (not restarted) and one serve
// (restarted on its folder, so its audit write-ahead log is replayed).
// Then: every acknowledged input settled (final, or waiting for review),
// none lost or duplicated, every e-result fetched through the reuse API of
// both serves and verified by `sohoa verify`, `sohoa audit verify` passes
// with one record per answered API request. A second, fault-free phase runs
// part of the corpus on one worker; it prints throughput with 3 workers and
// with 1, and pages per worker CPU-second.
func TestScale(t *testing.T) {
	if os.Getenv(scaleEnv) != "1" {
		t.Skipf("scale-out test: make scale-test (%s=1)", scaleEnv)
	}
	redisExe := testenv.MustHaveExecPath(t, "redis-server")
	minioExe := os.Getenv("MINIO")
	if minioExe == "" {
		minioExe = mustAbs(t, "../../.local/tools/minio")
	}
	testenv.MustHaveFile(t, minioExe, "make scale-test builds it (go install github.com/minio/minio@…)")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	corpusDir := "../../../shared/corpus/dev"
	corpus := devCorpus(t, corpusDir)

	root := t.TempDir()
	logDir := filepath.Join(root, "logs")
	keysDir := filepath.Join(root, "keys")
	for _, d := range []string{logDir, keysDir} {
		os.MkdirAll(d, 0o755)
	}
	logFile := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	var procs []*chaosProc
	t.Cleanup(func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].signal(syscall.SIGKILL)
		}
		if t.Failed() {
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("sohoa-scale-%d", time.Now().Unix()))
			if err := os.CopyFS(keep, os.DirFS(logDir)); err == nil {
				t.Logf("scale: logs kept in %s", keep)
			}
		}
	})
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(d); !ok(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("scale: %s: not within %s", what, d)
			}
		}
	}
	httpOK := func(url string, want int) func() bool {
		return func() bool {
			r, err := http.Get(url)
			if err != nil {
				return false
			}
			r.Body.Close()
			return r.StatusCode == want
		}
	}

	// MinIO: 4 nodes, one drive each, one erasure set (EC:2 by default:
	// reads need 2 drives, writes 3).
	const s3Access, s3Secret = "scale-access", "scale-secret-0123456789"
	minioPorts := []string{"29001", "29002", "29003", "29004"}
	var endpoints []string
	for i, p := range minioPorts {
		endpoints = append(endpoints, fmt.Sprintf("http://127.0.0.1:%s%s", p, filepath.Join(root, "minio", fmt.Sprint(i+1))))
	}
	var nodes []*chaosProc
	for i, p := range minioPorts {
		os.MkdirAll(filepath.Join(root, "minio", fmt.Sprint(i+1)), 0o755)
		n := &chaosProc{name: "minio-" + p, exe: minioExe, log: logFile(fmt.Sprintf("minio-%d", i+1)),
			env: append(os.Environ(), "MINIO_ROOT_USER="+s3Access, "MINIO_ROOT_PASSWORD="+s3Secret,
				"MINIO_CI_CD=1", "MINIO_BROWSER=off", "MINIO_UPDATE=off",
				// In a container MinIO takes loopback endpoints for
				// unresolved remote hosts; this names the node's own.
				"_MINIO_SERVER_LOCAL=127.0.0.1:"+p),
			args: append([]string{"server", "--quiet", "--address", "127.0.0.1:" + p,
				"--console-address", "127.0.0.1:" + fmt.Sprint(29011+i)}, endpoints...)}
		n.start(t)
		procs = append(procs, n)
		nodes = append(nodes, n)
	}
	for _, p := range minioPorts {
		waitFor("minio "+p+" has write quorum", 90*time.Second, httpOK("http://127.0.0.1:"+p+"/minio/health/cluster", 200))
	}
	const redisPort = "26380"
	redisProc := &chaosProc{name: "redis", exe: redisExe, log: logFile("redis"), env: os.Environ(), args: []string{
		"--bind", "127.0.0.1", "--port", redisPort, "--dir", root, "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"}}
	redisProc.start(t)
	procs = append(procs, redisProc)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + redisPort})
	defer rdb.Close()
	waitFor("redis", 10*time.Second, func() bool { return rdb.Ping(context.Background()).Err() == nil })

	dev, err := api.EnsureDevClients(keysDir, "000.00.00.H00")
	if err != nil {
		t.Fatal(err)
	}
	raiseRateLimit(t, dev.ClientsJSON)
	apiClient := devAPIClient(t, dev)
	common := map[string]string{
		"SOHOA_DEV": "1", "SOHOA_KEYS_DIR": keysDir, "SOHOA_REDIS_ADDR": "127.0.0.1:" + redisPort,
		"SOHOA_S3_ACCESS_KEY": s3Access, "SOHOA_S3_SECRET_KEY": s3Secret,
		"SOHOA_INTAKE_TOKEN": testIntakeToken, "SOHOA_INTAKE_FILES_PER_MINUTE": "0",
		"SOHOA_OCR_CHILDREN": "1", "SOHOA_WORKER_CONCURRENCY": "2",
		"SOHOA_RECONCILE_EVERY": "5s", "SOHOA_VERIFY_BASE_URL": "https://127.0.0.1:28443",
		"SOHOA_LOG_LEVEL": "info",
		// Several serves and workers on one machine: no operations
		// listeners, whose default addresses they would share.
		"SOHOA_OPS_ADDR": "0", "SOHOA_WORKER_OPS_ADDR": "0",
	}
	envOf := func(bucket string, db int, s3Port, local string, extra ...string) []string {
		out := append(os.Environ(), testMainEnv+"=1", "SOHOA_S3_BUCKET="+bucket, fmt.Sprintf("SOHOA_REDIS_DB=%d", db),
			"SOHOA_S3_ENDPOINT=127.0.0.1:"+s3Port, "SOHOA_LOCAL_DIR="+filepath.Join(root, "local", local))
		for k, v := range common {
			out = append(out, k+"="+v)
		}
		return append(out, extra...)
	}
	type serveP struct {
		proc            *chaosProc
		intake, apiAddr string
	}
	startServe := func(s *serveP) {
		t.Helper()
		s.proc.start(t)
		waitFor(s.proc.name+" intake", 60*time.Second, httpOK("http://"+s.intake+"/healthz", http.StatusNoContent))
		waitFor(s.proc.name+" reuse API", 60*time.Second, func() bool {
			r, err := apiClient.Get("https://" + s.apiAddr + "/healthz")
			if err == nil {
				r.Body.Close()
			}
			return err == nil && r.StatusCode == http.StatusOK
		})
	}
	newServe := func(name, bucket string, db int, s3Port, intake, apiAddr string) *serveP {
		s := &serveP{intake: intake, apiAddr: apiAddr, proc: &chaosProc{name: name, exe: exe, args: []string{"serve"}, log: logFile(name),
			env: envOf(bucket, db, s3Port, name, "SOHOA_INTAKE_ADDR="+intake, "SOHOA_API_ADDR="+apiAddr)}}
		procs = append(procs, s.proc)
		return s
	}
	cpu := newCPUMeter()
	defer cpu.close()
	newWorker := func(name, bucket string, db int, s3Port string) *chaosProc {
		w := &chaosProc{name: name, exe: exe, args: []string{"worker"}, log: logFile(name), env: envOf(bucket, db, s3Port, name)}
		w.start(t)
		cpu.watch(w.cmd.Process.Pid)
		procs = append(procs, w)
		return w
	}

	// Phase 1: two serves, three workers, faults.
	const bucket1 = "scale-1"
	serves := []*serveP{
		newServe("serve-1", bucket1, 0, "29001", "127.0.0.1:28180", "127.0.0.1:28443"),
		newServe("serve-2", bucket1, 0, "29002", "127.0.0.1:28181", "127.0.0.1:28444"),
	}
	startServe(serves[0]) // the first creates the bucket and the keys
	startServe(serves[1])
	cpu0 := cpu.total()
	workers := []*chaosProc{
		newWorker("worker-1", bucket1, 0, "29001"),
		newWorker("worker-2", bucket1, 0, "29002"),
		newWorker("worker-3", bucket1, 0, "29003"),
	}
	cfgOf := func(bucket string) *config {
		cfg, err := newFlagSet("scale", "", environFrom(envOf(bucket, 0, "29003", "check")), io.Discard, ^group(0)).parse(nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	ctx := context.Background()
	repo1, err := openRepository(ctx, cfgOf(bucket1), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	inputs := make([]*scaleInput, len(corpus))
	for i, f := range corpus {
		inputs[i] = &scaleInput{name: f.Name, pages: f.Pages}
	}
	// upload sends the inputs in batches of 2, one batch a second, to the
	// given serve; a batch its serve did not answer goes to the other.
	var ledger sync.Mutex
	upload := func(ins []*scaleInput, to func(try int) string) {
		var wg sync.WaitGroup
		for i := 0; i < len(ins); i += 2 {
			batch := ins[i:min(i+2, len(ins))]
			wg.Go(func() {
				for try := 0; try < 30; try++ {
					var names []string
					ledger.Lock()
					for _, in := range batch {
						if in.key == "" {
							names = append(names, in.name)
						}
					}
					ledger.Unlock()
					if len(names) == 0 {
						return
					}
					acked, refused, err := uploadFilesWhy("http://"+to(try), testIntakeToken, corpusDir, names)
					ledger.Lock()
					for _, in := range batch {
						if k, ok := acked[in.name]; ok && in.key == "" {
							in.key = k
						} else if in.key == "" {
							in.why = fmt.Sprint(refused[in.name], err)
						}
					}
					ledger.Unlock()
					time.Sleep(time.Second)
				}
			})
			time.Sleep(time.Second)
		}
		wg.Wait()
	}
	stateOf := func(repo *storage.Repository, k string) pipeline.InputState {
		st, err := pipeline.StateOf(ctx, repo, k)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Logf("scale: state of %s: %v", k, err)
		}
		return st
	}
	// countSettled counts the acknowledged inputs and those settled; every
	// 30 s it logs the others.
	lastLog := time.Now()
	countSettled := func(repo *storage.Repository, ins []*scaleInput) (n, pages, acked int) {
		ledger.Lock()
		defer ledger.Unlock()
		var open []string
		for _, in := range ins {
			if in.key == "" {
				open = append(open, in.name+": not acknowledged: "+in.why)
				continue
			}
			acked++
			if !settled(in.st) {
				in.st = stateOf(repo, in.key)
			}
			if settled(in.st) {
				n++
				pages += in.pages
			} else {
				open = append(open, fmt.Sprintf("%s: %s %v", in.name, in.st.State, in.st.Needs))
			}
		}
		if time.Since(lastLog) > 30*time.Second {
			lastLog = time.Now()
			t.Logf("scale: %d/%d settled; open: %v", n, len(ins), open)
		}
		return n, pages, acked
	}

	start1 := time.Now()
	var upWG sync.WaitGroup
	var even, odd []*scaleInput
	for i, in := range inputs {
		if i%2 == 0 {
			even = append(even, in)
		} else {
			odd = append(odd, in)
		}
	}
	for i, part := range [][]*scaleInput{even, odd} {
		upWG.Go(func() {
			upload(part, func(try int) string { return serves[(i+try)%2].intake })
		})
	}
	// The faults, once a quarter of the corpus has settled.
	waitFor("a quarter of the corpus settled", 10*time.Minute, func() bool {
		n, _, _ := countSettled(repo1, inputs)
		return n >= len(inputs)/4
	})
	nodes[3].signal(syscall.SIGKILL)
	workers[2].signal(syscall.SIGKILL)
	serves[1].proc.signal(syscall.SIGKILL)
	faultsAt := time.Since(start1).Round(time.Second)
	t.Logf("scale: at %s: minio node 4 SIGKILLed (left down), worker-3 SIGKILLed (not restarted), serve-2 SIGKILLed", faultsAt)
	time.Sleep(5 * time.Second)
	startServe(serves[1])
	t.Logf("scale: serve-2 restarted on its folder")
	upWG.Wait()
	waitFor("every acknowledged input settled", 12*time.Minute, func() bool {
		n, _, acked := countSettled(repo1, inputs)
		return n == acked
	})
	dur1 := time.Since(start1)
	cpu1 := cpu.total() - cpu0
	_, pages1, _ := countSettled(repo1, inputs)

	// The invariants, from S3 (one MinIO node still down).
	lost, duplicated, notAcked := 0, 0, 0
	outcome := map[string]int{}
	var issued []storage.Manifest
	for _, in := range inputs {
		if in.key == "" {
			notAcked++
			t.Errorf("scale: %s never acknowledged: %s", in.name, in.why)
			continue
		}
		outcome[in.st.State]++
		if in.st.Intake.Meta.UploadedAt.IsZero() {
			lost++
			t.Errorf("scale: lost: %s", in.name)
		}
		if n := len(in.st.ToIssue); in.st.State == pipeline.StateIssued && len(in.st.Results) != n {
			duplicated++
			t.Errorf("scale: %s has %d results for %d documents to issue", in.name, len(in.st.Results), n)
		}
		issued = append(issued, in.st.Results...)
	}
	b, ok := repo1.Bucket().(*s3.Bucket)
	if !ok {
		t.Fatal("scale: repository not on S3")
	}
	versions := map[string]int{}
	for o := range b.Client().ListObjects(ctx, b.Name(), minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			t.Fatalf("scale: list versions: %v", o.Err)
		}
		versions[o.Key]++
	}
	for k, n := range versions {
		if n > 1 && (strings.HasPrefix(k, "results/") || strings.HasPrefix(k, "index/") || strings.HasPrefix(k, "inputs/") ||
			strings.HasPrefix(k, "codes/") || strings.HasPrefix(k, "sha256/")) {
			duplicated++
			t.Errorf("scale: %s has %d versions", k, n)
		}
	}

	// Every e-result through the reuse API of both serves, then verified.
	why := func(r *http.Request) {
		r.Header.Set("X-Purpose-Procedure", "1.004873")
		r.Header.Set("X-Purpose-Dossier", "000.00.31.H29-251122-0001")
	}
	answered, verified := 0, 0
	call := func(req *http.Request) (*http.Response, []byte) {
		why(req)
		resp, err := apiClient.Do(req)
		if err != nil {
			t.Errorf("scale: %s %s: %v", req.Method, req.URL.Path, err)
			return nil, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered++
		return resp, body
	}
	pdfDir := filepath.Join(root, "pdf")
	os.MkdirAll(pdfDir, 0o755)
	for i, m := range issued {
		srv := "https://" + serves[i%2].apiAddr
		idType, id, err := repo1.HolderID(ctx, m)
		if err != nil {
			t.Errorf("scale: holder of %s: %v", m.ResultCode, err)
			continue
		}
		req, _ := http.NewRequest("POST", srv+"/v1/results:search", strings.NewReader(
			fmt.Sprintf(`{"holder_id_type":%q,"holder_id":%q,"include_history":true}`, idType, id)))
		req.Header.Set("Content-Type", "application/json")
		resp, body := call(req)
		var sr struct {
			Results []struct {
				ResultCode string `json:"result_code"`
				Access     string `json:"access"`
				SHA256     string `json:"sha256"`
			} `json:"results"`
		}
		if resp == nil || resp.StatusCode != 200 || json.Unmarshal(body, &sr) != nil {
			t.Errorf("scale: search for the holder of %s failed", m.ResultCode)
			continue
		}
		access := ""
		for _, r := range sr.Results {
			if r.ResultCode == m.ResultCode {
				access = r.Access
			}
		}
		if access == "" {
			t.Errorf("scale: %s not found by its holder's search", m.ResultCode)
			continue
		}
		srv = "https://" + serves[(i+1)%2].apiAddr // the other serve reads it
		req, _ = http.NewRequest("GET", srv+"/v1/results/"+m.ResultCode+"?access="+access, nil)
		if resp, _ := call(req); resp == nil || resp.StatusCode != 200 {
			t.Errorf("scale: metadata of %s not fetched", m.ResultCode)
			continue
		}
		req, _ = http.NewRequest("GET", srv+"/v1/results/"+m.ResultCode+"/pdf?access="+access, nil)
		resp, pdf := call(req)
		if resp == nil || resp.StatusCode != 200 {
			t.Errorf("scale: PDF of %s not fetched", m.ResultCode)
			continue
		}
		path := filepath.Join(pdfDir, m.ResultCode+".pdf")
		if err := os.WriteFile(path, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if rc := run(ctx, []string{"verify", path}, environFrom(envOf(bucket1, 0, "29001", "check")), &out, &out); rc != 0 {
			t.Errorf("scale: sohoa verify %s exited %d: %s", m.ResultCode, rc, out.String())
			continue
		}
		verified++
	}
	for _, s := range serves {
		s.proc.signal(syscall.SIGTERM) // flushes its audit batches
	}
	var out bytes.Buffer
	auditEnv := environFrom(envOf(bucket1, 0, "29001", "check"))
	rc := run(ctx, []string{"audit", "verify"}, auditEnv, &out, &out)
	am := regexp.MustCompile(`audit chain OK: (\d+) records`).FindStringSubmatch(out.String())
	auditRecords := -1
	if am != nil {
		auditRecords, _ = strconv.Atoi(am[1])
	}
	if rc != 0 || auditRecords != answered {
		t.Errorf("scale: audit verify exited %d with %d records, want %d (one per answered request):\n%s", rc, auditRecords, answered, out.String())
	}
	for _, w := range workers[:2] {
		w.signal(syscall.SIGTERM)
	}

	// Phase 2: one worker, no faults, a fresh bucket and Redis DB, MinIO
	// whole again.
	nodes[3].start(t)
	for _, p := range minioPorts {
		waitFor("minio "+p+" back", 90*time.Second, httpOK("http://127.0.0.1:"+p+"/minio/health/cluster", 200))
	}
	const bucket2 = "scale-2"
	single := newServe("serve-p2", bucket2, 1, "29001", "127.0.0.1:28182", "127.0.0.1:28445")
	startServe(single)
	repo2, err := openRepository(ctx, cfgOf(bucket2), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cpu0 = cpu.total()
	newWorker("worker-p2", bucket2, 1, "29002")
	part2 := make([]*scaleInput, 0, 12)
	for _, f := range corpus[:12] {
		part2 = append(part2, &scaleInput{name: f.Name, pages: f.Pages})
	}
	start2 := time.Now()
	upload(part2, func(int) string { return single.intake })
	waitFor("phase 2 settled", 10*time.Minute, func() bool {
		n, _, acked := countSettled(repo2, part2)
		return n == acked
	})
	dur2 := time.Since(start2)
	cpu2 := cpu.total() - cpu0
	_, pages2, _ := countSettled(repo2, part2)

	ppm := func(pages int, d time.Duration) float64 { return float64(pages) / d.Minutes() }
	t.Logf("scale: phase 1 outcomes %v; %d results fetched (search + metadata + PDF) and verified; %d API answers, %d audit records",
		outcome, verified, answered, auditRecords)
	summary := fmt.Sprintf("scale: minio_nodes=4 serves=2 workers=3 files=%d pages=%d faults=minio_node_down,worker_kill9,serve_kill9 "+
		"lost=%d duplicated=%d not_acked=%d results_verified=%d/%d audit_records=%d/%d "+
		"throughput_3w=%.1f_pages/min (%.0fs) throughput_1w=%.1f_pages/min (%d pages, %.0fs) "+
		"pages_per_worker_cpu_s_3w=%.3f pages_per_worker_cpu_s_1w=%.3f",
		len(inputs), pages1, lost, duplicated, notAcked, verified, len(issued), auditRecords, answered,
		ppm(pages1, dur1), dur1.Seconds(), ppm(pages2, dur2), pages2, dur2.Seconds(),
		float64(pages1)/cpu1, float64(pages2)/cpu2)
	t.Log(summary)
	fmt.Println(summary)
}
