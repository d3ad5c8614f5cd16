// Package bench is `sohoa bench` (make bench): the whole pipeline measured
// side by side with raw Tesseract, `sohoa extract` and OCRmyPDF on the same
// pages, in paired rounds, with CPU time, peak memory and the worker's own
// stage timings. See Run.
package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

// procInfo is one process of /proc.
type procInfo struct {
	pid, ppid int
	cpu       float64 // user + system seconds
}

// readProcs lists every process with its parent and CPU time.
func readProcs() map[int]procInfo {
	ents, _ := os.ReadDir("/proc")
	out := make(map[int]procInfo, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if p, ok := parseStat(pid, b); ok {
			out[pid] = p
		}
	}
	return out
}

// parseStat reads the parent and CPU time from a /proc/PID/stat line (the
// command name, in parentheses, may hold spaces).
func parseStat(pid int, b []byte) (procInfo, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseFloat(f[11], 64)
	st, err3 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procInfo{}, false
	}
	return procInfo{pid: pid, ppid: ppid, cpu: (ut + st) / clockTicks}, true
}

// tree is root and its live descendants.
func tree(procs map[int]procInfo, root int) []int {
	kids := map[int][]int{}
	for _, p := range procs {
		kids[p.ppid] = append(kids[p.ppid], p.pid)
	}
	var out []int
	var walk func(int, int)
	walk = func(pid, depth int) {
		if _, ok := procs[pid]; !ok || depth > 8 {
			return
		}
		out = append(out, pid)
		for _, k := range kids[pid] {
			walk(k, depth+1)
		}
	}
	walk(root, 0)
	return out
}

// treeCPU is the CPU seconds of the live processes of roots' trees.
func treeCPU(roots ...int) (float64, map[int]float64) {
	procs := readProcs()
	per := map[int]float64{}
	total := 0.0
	for _, r := range roots {
		for _, pid := range tree(procs, r) {
			per[pid] = procs[pid].cpu
			total += procs[pid].cpu
		}
	}
	return total, per
}

// resetPeak clears the peak RSS (VmHWM) of roots' trees, so a later
// peakRSS is the peak from now on (Linux clear_refs 5).
func resetPeak(roots ...int) {
	procs := readProcs()
	for _, r := range roots {
		for _, pid := range tree(procs, r) {
			_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
		}
	}
}

// peakRSS is the peak resident memory, in bytes, of root's live tree:
// root's own and the largest of its descendants', and their sum (each
// process's VmHWM; the sum is an upper bound of the tree's peak).
type peak struct {
	Self, Children, Sum int64
}

func peakRSS(root int) peak {
	procs := readProcs()
	var p peak
	for _, pid := range tree(procs, root) {
		hwm := vmHWM(pid)
		if pid == root {
			p.Self = hwm
		} else {
			p.Children = max(p.Children, hwm)
		}
		p.Sum += hwm
	}
	return p
}

// liveMem is the memory of processes at one instant, in bytes: the sum of
// their resident sets (VmRSS: pages of the executable and libraries they
// share count in each), and the sum of their proportional sets (Pss:
// shared pages divided among the processes that map them, so the sum is
// what the processes hold together).
type liveMem struct{ RSS, PSS int64 }

// treeMem is the memory of the live processes of roots' trees, now.
func treeMem(roots ...int) liveMem {
	procs := readProcs()
	var m liveMem
	for _, r := range roots {
		for _, pid := range tree(procs, r) {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				m.RSS += statusKB(b, "VmRSS:") << 10
			}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
				m.PSS += statusKB(b, "Pss:") << 10
			}
		}
	}
	return m
}

// sampleMem samples treeMem(roots...) every interval until the returned
// stop is called, which returns the largest sums seen: the peak of the
// trees' memory at one instant (unlike the sum of each process's own
// peak, an upper bound), including processes that ended in between.
// Calling stop again returns the same.
func sampleMem(interval time.Duration, roots ...int) (stop func() liveMem) {
	done := make(chan struct{})
	peak := make(chan liveMem, 1)
	var once sync.Once
	var result liveMem
	go func() {
		var best liveMem
		take := func() {
			m := treeMem(roots...)
			best.RSS, best.PSS = max(best.RSS, m.RSS), max(best.PSS, m.PSS)
		}
		take()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				take()
				peak <- best
				return
			case <-t.C:
				take()
			}
		}
	}()
	return func() liveMem {
		once.Do(func() {
			close(done)
			result = <-peak
		})
		return result
	}
}

// vmHWM is a process's peak resident set size in bytes (0 if unknown).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return statusKB(b, "VmHWM:") << 10
}

func statusKB(b []byte, field string) int64 {
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

var errNoProc = errors.New("process not found")
