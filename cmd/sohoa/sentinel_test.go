package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"sohoa/internal/testenv"
	"sohoa/pipeline"
	"sohoa/storage"
)

// corpusFile is one scan of the dev corpus.
type corpusFile struct {
	Name  string `json:"file"`
	Pages int    `json:"pages"`
}

// devCorpus lists the dev corpus beside the checkout (manifest order).
func devCorpus(t *testing.T, dir string) []corpusFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		testenv.Missing(t, "dev corpus "+dir, "it lies beside the checkout in ../shared/corpus/dev")
	}
	var m struct {
		Files []corpusFile `json:"files"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("corpus manifest: %v", err)
	}
	return m.Files
}

// settled: the input is final, or waits only for a person (review, or
// partly issued with the rest in review).
func settled(st pipeline.InputState) bool {
	return st.Final || ((st.State == pipeline.StateReview || st.State == pipeline.StatePartlyIssued) && len(st.Needs) == 0)
}

// uploadFiles posts the named corpus files as one batch and returns the
// input keys of the files the intake acknowledged (stored), by name.
func uploadFiles(base, token, dir string, names []string) (map[string]string, error) {
	acked, _, err := uploadFilesWhy(base, token, dir, names)
	return acked, err
}

// uploadFilesWhy is uploadFiles that also says, by name, why a file was
// not acknowledged (status and reason code).
func uploadFilesWhy(base, token, dir string, names []string) (acked, refused map[string]string, err error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, nil, err
		}
		fw, err := mw.CreateFormFile("file", n)
		if err != nil {
			return nil, nil, err
		}
		fw.Write(data)
	}
	mw.Close()
	req, err := http.NewRequest("POST", base+"/v1/batches", &body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var br pipeline.BatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
		return nil, nil, fmt.Errorf("batch answer (HTTP %d): %w", resp.StatusCode, err)
	}
	acked, refused = map[string]string{}, map[string]string{}
	for _, f := range br.Files {
		if f.InputKey != "" && f.Status != pipeline.StatusRejected {
			acked[f.Name] = f.InputKey
		} else {
			refused[f.Name] = f.Status + " " + f.Reason
		}
	}
	return acked, refused, nil
}

// TestSentinelFailover runs `sohoa serve` and `sohoa worker` configured
// with SOHOA_REDIS_SENTINELS against a real Redis Sentinel (three
// sentinels, quorum 2) watching a primary and a replica, uploads dev
// corpus scans (real Tesseract), and SIGKILLs the primary mid-run. Sentinel
// promotes the replica; the clients follow it and work continues.
//
// It also makes the loss that asynchronous replication allows at a
// failover happen for sure: just before the kill the replica's link is
// cut (wrong masterauth) and the primary's queues are paused, so a batch
// uploaded then is acknowledged (stored in S3, queued on the old primary)
// but none of its tasks reach the replica. Only the reconciler (S3 is the
// system of record) can bring those inputs to their end: the test checks
// it does, and that every input settles.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	redisExe := testenv.MustHaveExecPath(t, "redis-server")
	sentinelExe := testenv.MustHaveExecPath(t, "redis-sentinel")
	requireStack(t)
	corpusDir := "../../../shared/corpus/dev"
	var names []string
	for _, f := range devCorpus(t, corpusDir) {
		if f.Pages == 1 && len(names) < 7 {
			names = append(names, f.Name)
		}
	}
	if len(names) < 7 {
		t.Fatalf("dev corpus: %d one-page scans, want 7", len(names))
	}

	root := t.TempDir()
	logDir := filepath.Join(root, "logs")
	os.MkdirAll(logDir, 0o755)
	logFile := func(name string) *os.File {
		f, err := os.Create(filepath.Join(logDir, name+".log"))
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
			for _, n := range []string{"primary", "replica", "sentinel-1"} {
				b, _ := os.ReadFile(filepath.Join(logDir, n+".log"))
				t.Logf("--- %s.log (tail)\n%s", n, tail(string(b), 3000))
			}
		}
	})
	const master, pass = "sohoa-test", "sentinel-test-password"
	redisNode := func(name, port string, extra ...string) *chaosProc {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0o755)
		p := &chaosProc{name: name, exe: redisExe, env: os.Environ(), log: logFile(name), args: append([]string{
			"--bind", "127.0.0.1", "--port", port, "--dir", dir, "--save", "",
			"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
			"--requirepass", pass, "--masterauth", pass}, extra...)}
		p.start(t)
		procs = append(procs, p)
		return p
	}
	ping := func(addr string) bool {
		c := redis.NewClient(&redis.Options{Addr: addr, Password: pass})
		defer c.Close()
		return c.Ping(context.Background()).Err() == nil
	}
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(d); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("sentinel: %s: not within %s", what, d)
			}
		}
	}
	pPort, rPort := freePort(t), freePort(t)
	pAddr, rAddr := "127.0.0.1:"+pPort, "127.0.0.1:"+rPort
	primary := redisNode("primary", pPort)
	waitFor("primary up", 10*time.Second, func() bool { return ping(pAddr) })
	redisNode("replica", rPort, "--replicaof", "127.0.0.1", pPort)
	replica := redis.NewClient(&redis.Options{Addr: rAddr, Password: pass})
	defer replica.Close()
	linkUp := func() bool {
		info, err := replica.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}
	waitFor("replica in sync", 20*time.Second, linkUp)

	var sentinels []string
	for i := range 3 {
		port := freePort(t)
		dir := filepath.Join(root, fmt.Sprintf("sentinel-%d", i+1))
		os.MkdirAll(dir, 0o755)
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel resolve-hostnames no\n"+
			"sentinel monitor %s 127.0.0.1 %s 2\nsentinel down-after-milliseconds %[3]s 1000\n"+
			"sentinel failover-timeout %[3]s 5000\nsentinel parallel-syncs %[3]s 1\nsentinel auth-pass %[3]s %[5]s\n",
			port, dir, master, pPort, pass)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &chaosProc{name: fmt.Sprintf("sentinel-%d", i+1), exe: sentinelExe, args: []string{conf}, env: os.Environ(), log: logFile(fmt.Sprintf("sentinel-%d", i+1))}
		p.start(t)
		procs = append(procs, p)
		sentinels = append(sentinels, "127.0.0.1:"+port)
	}
	sentinelMaster := func(addr string) map[string]string {
		c := redis.NewSentinelClient(&redis.Options{Addr: addr})
		defer c.Close()
		m, _ := c.Master(context.Background(), master).Result()
		return m
	}
	for _, s := range sentinels {
		waitFor("sentinel "+s+" sees the replica and the other sentinels", 30*time.Second, func() bool {
			m := sentinelMaster(s)
			return m["num-slaves"] == "1" && m["num-other-sentinels"] == "2"
		})
	}
	primaryOf := func() string {
		c := redis.NewSentinelClient(&redis.Options{Addr: sentinels[0]})
		defer c.Close()
		a, err := c.GetMasterAddrByName(context.Background(), master).Result()
		if err != nil || len(a) != 2 {
			return ""
		}
		return a[0] + ":" + a[1]
	}

	local := t.TempDir()
	intakeAddr := freeAddr(t)
	for k, v := range map[string]string{
		"SOHOA_DEV": "1", "SOHOA_LOCAL_DIR": local, "SOHOA_INTAKE_TOKEN": testIntakeToken,
		"SOHOA_S3_BUCKET":       fmt.Sprintf("sentinel-%d", time.Now().UnixNano()),
		"SOHOA_REDIS_ADDR":      "127.0.0.1:1", // unused: the sentinels name the primary
		"SOHOA_REDIS_SENTINELS": strings.Join(sentinels, ","), "SOHOA_REDIS_MASTER": master,
		"SOHOA_REDIS_PASSWORD": pass, "SOHOA_REDIS_DB": "0",
		"SOHOA_INTAKE_ADDR": intakeAddr, "SOHOA_API_ADDR": "", "SOHOA_INTAKE_FILES_PER_MINUTE": "0",
		"SOHOA_OCR_CHILDREN": "2", "SOHOA_WORKER_CONCURRENCY": "2",
		// Short periods so the test stays short (defaults: 15s, 8 retries up to 5m).
		"SOHOA_RECONCILE_EVERY": "3s", "SOHOA_TASK_MAX_RETRY": "8", "SOHOA_RETRY_MAX_DELAY": "4s",
	} {
		t.Setenv(k, v)
	}
	base := "http://" + intakeAddr
	startCommand(t, "serve", "--api-addr", "")
	waitHTTP(t, base+"/healthz")
	workerLog := startCommand(t, "worker")

	ctx := context.Background()
	repo, err := openRepository(ctx, envConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{} // input key -> file name
	upload := func(what string, files []string) []string {
		t.Helper()
		var got []string
		for try := 0; len(files) > 0; try++ {
			acked, err := uploadFiles(base, testIntakeToken, corpusDir, files)
			var rest []string
			for _, f := range files {
				if k, ok := acked[f]; ok {
					keys[k] = f
					got = append(got, k)
				} else {
					rest = append(rest, f)
				}
			}
			files = rest
			if len(files) > 0 {
				if try > 20 {
					t.Fatalf("sentinel: batch %s: %d files never acknowledged (%v)", what, len(files), err)
				}
				time.Sleep(time.Second)
			}
		}
		return got
	}
	stateOf := func(k string) pipeline.InputState {
		st, err := pipeline.StateOf(ctx, repo, k)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("state of %s: %v", k, err)
		}
		return st
	}

	// A: work in progress when the primary dies.
	batchA := upload("A", names[:3])
	waitFor("a first input of batch A settled", 90*time.Second, func() bool {
		for _, k := range batchA {
			if settled(stateOf(k)) {
				return true
			}
		}
		return false
	})

	// Cut the replica's link and pause the primary's queues: from here on
	// the primary acknowledges writes the replica never gets.
	cut := time.Now()
	if err := replica.ConfigSet(ctx, "masterauth", "wrong-password").Err(); err != nil {
		t.Fatal(err)
	}
	if err := replica.Do(ctx, "CLIENT", "KILL", "TYPE", "master").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor("replica link cut", 10*time.Second, func() bool { return !linkUp() })
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: pAddr, Password: pass})
	for q := range pipeline.Queues() {
		if err := insp.PauseQueue(q); err != nil {
			t.Fatalf("pause %s on the primary: %v", q, err)
		}
	}
	insp.Close()
	// B: acknowledged by the primary alone.
	batchB := upload("B", names[3:5])
	primary.signal(syscall.SIGKILL)
	replica.ConfigSet(ctx, "masterauth", pass)
	t.Logf("sentinel: primary %s killed (-9) %s after the replica's link was cut", pAddr, time.Since(cut).Round(time.Millisecond))
	killed := time.Now()
	waitFor("Sentinel promotes the replica", 60*time.Second, func() bool { return primaryOf() == rAddr })
	t.Logf("sentinel: replica %s promoted %s after the kill", rAddr, time.Since(killed).Round(100*time.Millisecond))

	// C: uploaded to the new primary through the same serve.
	batchC := upload("C", names[5:7])

	all := append(append(append([]string{}, batchA...), batchB...), batchC...)
	states := map[string]pipeline.InputState{}
	waitFor("every input settled after the failover", 150*time.Second, func() bool {
		for _, k := range all {
			if s, ok := states[k]; ok && settled(s) {
				continue
			}
			states[k] = stateOf(k)
			if !settled(states[k]) {
				return false
			}
		}
		return true
	})
	outcome := map[string]int{}
	for _, k := range all {
		outcome[states[k].State]++
		if states[k].Intake.Meta.UploadedAt.IsZero() {
			t.Errorf("sentinel: lost: %s (%s)", keys[k], k)
		}
	}
	// Batch B's tasks never reached the new primary: the reconciler
	// dispatched them again from S3.
	dispatched := 0
	for _, line := range strings.Split(workerLog.String(), "\n") {
		var rec struct {
			Msg        string `json:"msg"`
			Dispatched int    `json:"dispatched"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "reconciled" {
			dispatched += rec.Dispatched
		}
	}
	if dispatched < len(batchB) {
		t.Errorf("sentinel: the reconciler re-dispatched %d tasks, want at least %d (batch B); worker log:\n%s", dispatched, len(batchB), tail(workerLog.String(), 4000))
	}
	t.Logf("sentinel: %d inputs (A %d, B %d lost-in-Redis, C %d) all settled: %v; reconciler re-dispatched %d tasks", len(all), len(batchA), len(batchB), len(batchC), outcome, dispatched)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
