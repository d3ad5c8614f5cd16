package main

import (
	"context"
	"io"
	"os"
	"testing"
)

// TestMain lets the test binary act as `sohoa ocr-child` or `sohoa
// verify-child` when the OCR pool or the verifier re-executes it, exactly as
// the real binary does. With testMainEnv=1 it is the sohoa binary itself,
// for tests that need a real process (one they can SIGKILL).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && internalCommand(os.Args[1]) {
		os.Exit(runCmd(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	if processEnv()[testMainEnv] == "1" {
		main()
	}
	os.Exit(m.Run())
}

// testMainEnv makes the test binary run main (see TestMain).
const testMainEnv = "SOHOA_TEST_AS_MAIN"

// runCmd runs a subcommand in this process with the process environment,
// which tests adjust with t.Setenv.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, processEnv(), stdout, stderr)
}

// testConfig is a development configuration with every setting's group,
// from the given NAME=value pairs only.
func testConfig(t *testing.T, kv ...string) *config {
	t.Helper()
	all := ^group(0)
	cfg, err := newFlagSet("test", "", environFrom(append([]string{"SOHOA_DEV=1"}, kv...)), io.Discard, all).parse(nil)
	if err != nil {
		t.Fatalf("test config %v: %v", kv, err)
	}
	return cfg
}

// envConfig is the configuration the process environment describes (the
// local stack under `make test`, adjusted by t.Setenv), with every group.
func envConfig(t *testing.T) *config {
	t.Helper()
	cfg, err := newFlagSet("test", "", processEnv(), io.Discard, ^group(0)).parse(nil)
	if err != nil {
		t.Fatalf("config from the environment: %v", err)
	}
	return cfg
}
