package api

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sohoa/internal/testenv"
)

// redoclyVersion is the @redocly/cli version deploy/local/deps.sh installs:
// the one deploy/local/redocly/package.json pins (its lock file pins the
// checksum).
func redoclyVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "local", "redocly", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("deploy/local/redocly/package.json: %v", err)
	}
	v := pkg.Dependencies["@redocly/cli"]
	if v == "" || strings.ContainsAny(v, "^~<>=* ") {
		t.Fatalf("deploy/local/redocly/package.json must pin one @redocly/cli version, has %q", v)
	}
	return v
}

// redoclyBin is the redocly command deps.sh installs under the local
// directory's tools/ (SOHOA_LOCAL_DIR, default the checkout's .local/).
func redoclyBin(t *testing.T) string {
	t.Helper()
	local := os.Getenv("SOHOA_LOCAL_DIR")
	if local == "" {
		local = filepath.Join("..", ".local")
	}
	p, err := filepath.Abs(filepath.Join(local, "tools", "redocly", "node_modules", ".bin", "redocly"))
	if err != nil {
		t.Fatal(err)
	}
	return testenv.MustHaveFile(t, p, "make deps installs it (npm ci of deploy/local/redocly into .local/tools/redocly)")
}

// redoclyEnv keeps the linter offline and quiet: no telemetry, no update
// check.
func redoclyEnv() []string {
	return append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
}

// TestOpenAPILint runs `redocly lint api/openapi.json` with the checkout's
// redocly.yaml (the recommended rules, every one an error) and fails on any
// problem it reports. The pinned version must be the one installed.
func TestOpenAPILint(t *testing.T) {
	testenv.MustHaveExecPath(t, "node")
	bin := redoclyBin(t)
	want := redoclyVersion(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	lint := func(format string) ([]byte, []byte, error) {
		cmd := exec.CommandContext(t.Context(), bin, "lint", "--config", "redocly.yaml", "--format", format, "api/openapi.json")
		cmd.Dir = root
		cmd.Env = redoclyEnv()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		return out, []byte(stderr.String()), err
	}
	out, stderr, runErr := lint("json")
	var report struct {
		Totals struct {
			Errors, Warnings, Ignored int
		} `json:"totals"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("redocly lint --format json: %v (run: %v)\nstdout:\n%s\nstderr:\n%s", err, runErr, out, stderr)
	}
	if report.Version != want {
		t.Fatalf("%s is @redocly/cli %s, deploy/local/redocly pins %s: run make deps", bin, report.Version, want)
	}
	t.Logf("redocly lint api/openapi.json (@redocly/cli %s): %d errors, %d warnings, %d ignored (.redocly.lint-ignore.yaml)",
		report.Version, report.Totals.Errors, report.Totals.Warnings, report.Totals.Ignored)
	if runErr != nil || report.Totals.Errors > 0 || report.Totals.Warnings > 0 {
		text, stderr, _ := lint("stylish")
		t.Fatalf("redocly lint api/openapi.json: %d errors, %d warnings (%v):\n%s%s",
			report.Totals.Errors, report.Totals.Warnings, runErr, text, stderr)
	}
}
