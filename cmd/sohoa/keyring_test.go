package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sohoa/internal/testenv"
)

// TestKeyRingCheckOnStack: a bucket written with development keys A refuses
// a process with a fresh development key ring B (serve and an operator
// command alike), naming both key IDs and no key, and accepts the rotated
// ring "B,A".
func TestKeyRingCheckOnStack(t *testing.T) {
	local := stackTest(t, 7)
	run := func(args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out := &testenv.Buffer{}
		return runCmd(ctx, args, out, out), out.String()
	}
	if code, out := run("index", "lint"); code != 0 {
		t.Fatalf("first open with keys A: exit %d\n%s", code, out)
	}
	keyText := func(dir, file string) (kid, text string) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		text = strings.TrimSpace(string(b))
		kid, _, _ = strings.Cut(text, ":")
		return kid, text
	}
	dirA := filepath.Join(local, "keys")
	indexA, indexRingA := keyText(dirA, "index.key")
	sealA, sealRingA := keyText(dirA, "seal.key")

	// A fresh development key ring B, as after deleting the keys folder.
	dirB := t.TempDir()
	t.Setenv("SOHOA_KEYS_DIR", dirB)
	intakeAddr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	for _, args := range [][]string{{"index", "lint"}, {"serve", "--api-addr", ""}} {
		code, out := run(args...)
		indexB, _ := keyText(dirB, "index.key")
		sealB, _ := keyText(dirB, "seal.key")
		t.Logf("sohoa %s with keys B: exit %d: %s", args[0], code, out)
		if code != 2 {
			t.Errorf("sohoa %s with keys B: exit %d, want 2\n%s", args[0], code, out)
		}
		for _, kid := range []string{indexA, indexB, sealA, sealB} {
			if !strings.Contains(out, kid) {
				t.Errorf("sohoa %s with keys B: the refusal does not name key %s:\n%s", args[0], kid, out)
			}
		}
		for _, secret := range []string{indexRingA, sealRingA} {
			_, hexKey, _ := strings.Cut(secret, ":")
			if strings.Contains(out, hexKey) {
				t.Errorf("sohoa %s: the refusal shows key material", args[0])
			}
		}
	}

	// Rotation: B current, A kept.
	_, indexRingB := keyText(dirB, "index.key")
	_, sealRingB := keyText(dirB, "seal.key")
	t.Setenv("SOHOA_INDEX_KEY", indexRingB+","+indexRingA)
	t.Setenv("SOHOA_SEAL_KEY", sealRingB+","+sealRingA)
	if code, out := run("index", "lint"); code != 0 {
		t.Errorf("rotated ring B,A: exit %d, want 0\n%s", code, out)
	}
	// The bucket now holds data of B's era too: A alone is refused.
	t.Setenv("SOHOA_INDEX_KEY", indexRingA)
	t.Setenv("SOHOA_SEAL_KEY", sealRingA)
	if code, out := run("index", "lint"); code != 2 {
		t.Errorf("ring A after B was recorded: exit %d, want 2\n%s", code, out)
	}
}
