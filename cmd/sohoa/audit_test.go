package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sohoa/api"
	"sohoa/internal/testenv"
)

// serveProc is `sohoa serve` in a process of its own: this test binary
// re-executed as the sohoa binary (see TestMain), so it can be SIGKILLed.
type serveProc struct {
	cmd  *exec.Cmd
	logs *testenv.Buffer
	done chan error
}

func startServeProc(t *testing.T, env ...string) *serveProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProc{logs: &testenv.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(exe, "serve")
	p.cmd.Env = append(os.Environ(), append([]string{testMainEnv + "=1"}, env...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop sends sig and waits for the process to end.
func (p *serveProc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(45 * time.Second):
		t.Fatalf("serve did not stop within 45s of %v:\n%s", sig, p.logs)
		return nil
	}
}

// TestAuditTwoServesKill is the acceptance test of the audit log under
// scale-out: two `sohoa serve` processes on one bucket and one
// SOHOA_LOCAL_DIR answer 1,000 interleaved reads; midway one is killed with
// SIGKILL while its records are answered but not yet stored (the flush
// interval is an hour), some reads go to it while it is down, and it is
// restarted on the same folder. Afterwards `sohoa audit verify` passes,
// every chain is closed, the number of audit records equals the number of
// requests that got an answer (counted here, on the client side) and
// `sohoa audit query` finds every read of the citizen over all chains.
func TestAuditTwoServesKill(t *testing.T) {
	local := stackTest(t, 8)
	dev, err := api.EnsureDevClients(filepath.Join(local, "keys"), "000.00.00.H00")
	if err != nil {
		t.Fatal(err)
	}
	raiseRateLimit(t, dev.ClientsJSON)
	client := devAPIClient(t, dev)

	type server struct {
		api, intake string
		proc        *serveProc
	}
	servers := []*server{{api: freeAddr(t), intake: freeAddr(t)}, {api: freeAddr(t), intake: freeAddr(t)}}
	start := func(s *server) {
		s.proc = startServeProc(t, "SOHOA_API_ADDR="+s.api, "SOHOA_INTAKE_ADDR="+s.intake, "SOHOA_AUDIT_FLUSH_EVERY=1h")
		waitAPI(t, client, s.api, s.proc)
	}
	// One after the other: the first creates the bucket and the keys.
	start(servers[0])
	start(servers[1])

	var (
		mu       sync.Mutex
		answered = map[int]int{} // by server
		ok200    int
		statuses = map[int]int{}
	)
	read := func(i int) {
		s := servers[i%2]
		body := `{"holder_id_type":"CCCD","holder_id":"001199012345"}`
		req, _ := http.NewRequest("POST", "https://"+s.api+"/v1/results:search", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Purpose-Procedure", "1.004873")
		req.Header.Set("X-Purpose-Dossier", "000.00.31.H29-251122-0001")
		resp, err := client.Do(req)
		if err != nil {
			return // no answer: no record may exist either
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		answered[i%2]++
		statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusOK {
			ok200++
		}
	}
	// reads sends reads [from, to) from 4 workers, interleaved between the
	// two servers, and returns when every one has its answer or error.
	reads := func(from, to int) {
		next := make(chan int)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := range next {
					read(i)
				}
			})
		}
		for i := from; i < to; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
	}

	reads(0, 500)
	// No read to the first server is in flight: every one it answered is
	// in its write-ahead log and none is stored yet.
	if err := servers[0].proc.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("serve survived SIGKILL")
	}
	writer := regexp.MustCompile(`"msg":"audit: writer started".*?"writer":"([a-z2-7]{16})"`).FindStringSubmatch(servers[0].proc.logs.String())
	if writer == nil {
		t.Fatalf("the killed serve did not log its audit writer:\n%s", servers[0].proc.logs)
	}
	pending := walRecords(t, filepath.Join(local, "audit-wal", writer[1]))
	mu.Lock()
	killedAnswered := answered[0]
	mu.Unlock()
	t.Logf("killed serve: %d reads answered, its WAL holds %d unstored records", killedAnswered, pending)
	if pending != killedAnswered {
		t.Errorf("got %d unstored records in the WALs after SIGKILL, want the %d answers the killed serve gave", pending, killedAnswered)
	}
	reads(500, 600) // half of these find no server
	start(servers[0])
	reads(600, 1000)
	for _, s := range servers {
		if err := s.proc.stop(t, syscall.SIGTERM); err != nil {
			t.Errorf("serve exited with %v:\n%s", err, s.proc.logs)
		}
	}
	total := answered[0] + answered[1]
	t.Logf("answered %d of 1000 reads (%d with 200), statuses %v", total, ok200, statuses)
	if total < 900 || ok200 != total {
		t.Errorf("got %d answers, %d of them 200; want at least 900, all 200:\nserve 1:\n%s\nserve 2:\n%s",
			total, ok200, servers[0].proc.logs, servers[1].proc.logs)
	}

	var out bytes.Buffer
	rc := runCmd(context.Background(), []string{"audit", "verify"}, &out, &out)
	t.Logf("audit verify: %s", out.String())
	m := regexp.MustCompile(`audit chain OK: (\d+) records`).FindStringSubmatch(out.String())
	if rc != 0 || m == nil {
		t.Fatalf("audit verify exited %d:\n%s", rc, out.String())
	}
	if got, _ := strconv.Atoi(m[1]); got != total {
		t.Errorf("got %d audit records, want %d: one per answered request", got, total)
	}
	out.Reset()
	if rc := runCmd(context.Background(), []string{"audit", "verify", "--require-closed"}, &out, &out); rc != 0 {
		t.Errorf("audit verify --require-closed exited %d: every chain should be closed, the killed one by the replay:\n%s", rc, out.String())
	}
	out.Reset()
	if rc := runCmd(context.Background(), []string{"audit", "query", "--citizen-id", "001199012345"}, &out, &out); rc != 0 {
		t.Fatalf("audit query exited %d:\n%s", rc, out.String())
	}
	if want := fmt.Sprintf("# %d records\n", total); !strings.HasSuffix(out.String(), want) {
		t.Errorf("audit query ends %q, want %q", lastLine(out.String()), want)
	}
	if left, _ := filepath.Glob(filepath.Join(local, "audit-wal", "*")); len(left) != 0 {
		t.Errorf("got %v left in the WAL folder after both serves stopped, want nothing", left)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// walRecords counts the records in the write-ahead segments in dir.
func walRecords(t *testing.T, dir string) int {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range segs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		n += bytes.Count(b, []byte("\n"))
	}
	return n
}

// raiseRateLimit lets the development client send as fast as the test
// does, so every read is answered 200 rather than some 429.
func raiseRateLimit(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cf api.ClientsFile
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	for i := range cf.Clients {
		cf.Clients[i].RateLimit = api.RateLimit{RPS: 1e5, Burst: 1e5}
	}
	if b, err = json.Marshal(cf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// devAPIClient calls the reuse API with the development client
// certificate, trusting the development server CA.
func devAPIClient(t *testing.T, dev api.DevFiles) *http.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(dev.ClientCert, dev.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(dev.ServerCA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatal("no server CA certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}},
		MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// waitAPI waits until a serve process answers on its reuse API.
func waitAPI(t *testing.T, c *http.Client, addr string, p *serveProc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := c.Get("https://" + addr + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve exited (%v) before answering:\n%s", err, p.logs)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("serve on %s did not come up:\n%s", addr, p.logs)
}
