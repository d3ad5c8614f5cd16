package tesseract

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildDiesWithItsWorker: an OCR child does not outlive a worker killed
// with SIGKILL (which runs no cleanup). The test runs itself as the
// "worker", which starts a child and reports its PID; the test kills the
// worker and waits for the child to be gone.
func TestChildDiesWithItsWorker(t *testing.T) {
	if os.Getenv("SOHOA_TEST_OCR_PARENT") == "1" {
		sleep, err := exec.LookPath("sleep")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		c, err := startChild(PoolOptions{Command: []string{sleep, "120"}, Stderr: io.Discard, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("child", c.cmd.Process.Pid)
		select {} // until killed
	}
	worker := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithItsWorker$")
	worker.Env = append(os.Environ(), "SOHOA_TEST_OCR_PARENT=1")
	out, err := worker.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 || f[0] != "child" {
		worker.Process.Kill()
		t.Fatalf("worker said %q (%v)", line, err)
	}
	pid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // only if the test fails
	if !alive(pid) {
		t.Fatalf("child %d is not running before the worker is killed", pid)
	}
	if err := worker.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	worker.Wait()
	// The kernel signals the child as the worker exits; allow a loaded
	// machine plenty of time to deliver it (the child would otherwise sleep
	// 120 s).
	for deadline := time.Now().Add(30 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("OCR child %d still runs 30 s after its worker was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting for a reaper counts as
// gone).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
