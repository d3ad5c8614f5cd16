package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"sohoa/pipeline"
)

// TestBackfillKilledAndResumed: a backfill killed with SIGKILL at a random
// file and started again ends with the summary of an uninterrupted run, and
// no file is recognised twice (counted from the worker's "ocr done" lines).
func TestBackfillKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	requireStack(t)
	archive := t.TempDir()
	put := func(name, from string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(archive, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("2019/01-scan.tif", "../../../shared/corpus/dev/scan_0003.tif")
	put("2019/02-scan.tif", "../../../shared/corpus/dev/scan_0007.tif")
	put("2019/03-copy.tif", "../../../shared/corpus/dev/scan_0003.tif") // the same bytes again
	put("2020/04-empty.pdf", "../../../shared/corpus/bad/empty.pdf")
	put("2020/05-truncated.jpg", "../../../shared/corpus/bad/truncated.jpg")
	const files, distinct = 5, 3 // the empty file is refused at the door, unstored

	// summary is what a pass reports, without its run-dependent parts.
	type summary struct {
		Submitted, Queued, Duplicates, Unreadable int
		Refused                                   map[string]int
		States, Reasons                           map[string]int
		Pending                                   int
	}
	summarize := func(rep pipeline.BackfillReport) summary {
		if rep.Outcomes == nil {
			t.Fatalf("report without outcomes: %+v", rep)
		}
		return summary{rep.Submitted, rep.Queued, rep.Duplicates, rep.Unreadable, rep.Refused,
			rep.Outcomes.States, rep.Outcomes.Reasons, rep.Outcomes.Pending}
	}
	backfill := func(t *testing.T) pipeline.BackfillReport {
		var out, logs bytes.Buffer
		if rc := runCmd(context.Background(), []string{"backfill", "--dir", archive, "--wait", "--wait-max", "5m"}, &out, &logs); rc != 0 {
			t.Fatalf("backfill exited %d: %s %s", rc, out.String(), logs.String())
		}
		var rep pipeline.BackfillReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("backfill report: %v: %s", err, out.String())
		}
		return rep
	}

	var want summary
	t.Run("uninterrupted", func(t *testing.T) {
		isolate(t, 5)
		startCommand(t, "worker", "--reconcile", "0")
		want = summarize(backfill(t))
	})
	if want.Submitted != files || want.Queued != distinct || want.Duplicates != 1 || want.Pending != 0 {
		t.Fatalf("uninterrupted pass = %+v, want %d files, %d queued, 1 duplicate, none pending", want, files, distinct)
	}

	t.Run("killed", func(t *testing.T) {
		local := isolate(t, 5)
		worker := startCommand(t, "worker", "--reconcile", "0")
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		// Paced by the worker (one pending task at a time), so the kill
		// lands between files; the kill point is random, the outcome must
		// not depend on it.
		killAfter := 1 + rand.IntN(files-1)
		cmd := exec.Command(exe, "backfill", "--dir", archive, "--max-backlog", "1")
		cmd.Env = append(os.Environ(), testMainEnv+"=1")
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		journal, _ := filepath.Glob(filepath.Join(local, "backfill", "*.journal"))
		for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			if journal == nil {
				journal, _ = filepath.Glob(filepath.Join(local, "backfill", "*.journal"))
			}
			if journal != nil {
				b, _ := os.ReadFile(journal[0])
				if strings.Count(string(b), `"op":"done"`) >= killAfter {
					break
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("backfill did not reach file %d: %s", killAfter, logs.String())
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		t.Logf("backfill killed after file %d of %d", killAfter, files)
		got := summarize(backfill(t))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("killed at file %d and resumed: %+v, want the uninterrupted %+v", killAfter, got, want)
		}
		// Every stored file is recognised once: an "ocr done" line, or, for
		// the truncated scan, its quarantine.
		seen := map[string]int{}
		for _, line := range strings.Split(worker.String(), "\n") {
			var l struct {
				Msg      string `json:"msg"`
				InputKey string `json:"input_key"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && (l.Msg == "ocr done" || l.Msg == "input quarantined") {
				seen[l.InputKey]++
			}
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("input %s recognised %d times", k, n)
			}
		}
		if len(seen) != distinct {
			t.Errorf("%d inputs recognised, want %d:\n%s", len(seen), distinct, worker.String())
		}
	})
}
