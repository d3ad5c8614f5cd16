package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDeployFilesNameOnlySettings: every SOHOA_* variable the deployment
// files name (Kubernetes manifests, compose.yaml, the env example, systemd
// units, the Dockerfile, deploy/README.md) is a setting sohoa reads, so a
// misspelt or removed one cannot hide in them.
func TestDeployFilesNameOnlySettings(t *testing.T) {
	known := map[string]bool{}
	for _, s := range settings() {
		known[s.env] = true
	}
	var files []string
	for _, pattern := range []string{"k8s/*.yaml", "compose.yaml", "*.env.example", "systemd/*", "Dockerfile", "docker/*", "README.md"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "deploy", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d deployment files found: %v", len(files), files)
	}
	name := regexp.MustCompile(`\bSOHOA_[A-Z0-9_]*[A-Z0-9]\b`)
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var unknown []string
		for _, v := range name.FindAllString(string(b), -1) {
			seen++
			// SOHOA_VERSION is compose.yaml's own variable (the image tag),
			// not a setting; deploy/README.md describes it.
			if known[v] || (v == "SOHOA_VERSION" && (strings.HasSuffix(f, "compose.yaml") || strings.HasSuffix(f, "README.md"))) {
				continue
			}
			unknown = append(unknown, v)
		}
		slices.Sort(unknown)
		if unknown = slices.Compact(unknown); len(unknown) > 0 {
			t.Errorf("%s names variables sohoa does not read: %s", f, strings.Join(unknown, ", "))
		}
	}
	if seen < 50 {
		t.Errorf("only %d SOHOA_* names in the deployment files", seen)
	}
}
