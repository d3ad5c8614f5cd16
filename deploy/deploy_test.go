// Package deploy holds the deployment files (Dockerfile, compose.yaml,
// Kubernetes manifests, systemd units); its tests validate them offline.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	"go.yaml.in/yaml/v3"

	"sohoa/internal/testenv"
)

// kubeconformVersion is the version deploy/local/deps.sh installs, read from
// the script so the two never disagree.
func kubeconformVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("local", "deps.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^KUBECONFORM_VERSION=(v[0-9.]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy/local/deps.sh sets no KUBECONFORM_VERSION")
	}
	return string(m[1])
}

// kubeconformBin is bin/kubeconform of the checkout, as deps.sh installs it.
func kubeconformBin(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "bin", "kubeconform"))
	if err != nil {
		t.Fatal(err)
	}
	return testenv.MustHaveFile(t, p, "make deps installs it (go install github.com/yannh/kubeconform/cmd/kubeconform)")
}

// kubeDefinitions returns the Kubernetes API definitions (the OpenAPI
// "definitions" map, Kubernetes 1.3x) that kubeconform's module ships in its
// test fixtures: `go install …@version` leaves the module in the module
// cache. kubeconform would otherwise download schemas from GitHub, which
// this machine (and CI) cannot reach.
func kubeDefinitions(t *testing.T, version string) map[string]any {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "yannh", "kubeconform@"+version, "fixtures", "cache")
	testenv.MustHaveFile(t, dir, "make deps installs kubeconform with go install, which keeps its module in the module cache")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Definitions map[string]any `json:"definitions"`
		}
		if json.Unmarshal(b, &doc) == nil && doc.Definitions["io.k8s.api.apps.v1.Deployment"] != nil {
			return doc.Definitions
		}
	}
	t.Fatalf("no Kubernetes definitions in %s", dir)
	return nil
}

// strictify makes every object schema with properties refuse unknown ones,
// as kubeconform's "-strict" schemas do.
func strictify(v any) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["properties"]; ok {
			if _, set := x["additionalProperties"]; !set {
				x["additionalProperties"] = false
			}
		}
		for _, c := range x {
			strictify(c)
		}
	case []any:
		for _, c := range x {
			strictify(c)
		}
	}
}

// schemaName is the file name kubeconform's schema-location template
// {{ .ResourceKind }}{{ .KindSuffix }}.json gives a kind.
func schemaName(group, version, kind string) string {
	name := strings.ToLower(kind)
	if group != "" {
		name += "-" + strings.ToLower(strings.Split(group, ".")[0])
	}
	return name + "-" + strings.ToLower(version) + ".json"
}

// writeSchemas writes one self-contained strict schema for each kind in
// want (schema file names) that the definitions have, and returns how many
// kinds the definitions have in all.
func writeSchemas(t *testing.T, defs map[string]any, dir string, want map[string]bool) int {
	t.Helper()
	strictify(defs)
	n := 0
	for _, d := range defs {
		def, _ := d.(map[string]any)
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			group, _ := gvk["group"].(string)
			kind, _ := gvk["kind"].(string)
			version, _ := gvk["version"].(string)
			n++
			name := schemaName(group, version, kind)
			if !want[name] {
				continue
			}
			root := map[string]any{"definitions": defs}
			for k, v := range def {
				root[k] = v
			}
			b, err := json.Marshal(root)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return n
}

// kubeconform runs bin/kubeconform -strict -summary on files with the
// offline schemas and returns its output and error.
func kubeconform(t *testing.T, bin, schemas string, files ...string) (string, error) {
	t.Helper()
	args := append([]string{"-strict", "-summary", "-schema-location",
		filepath.Join(schemas, "{{ .ResourceKind }}{{ .KindSuffix }}.json")}, files...)
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func k8sManifests(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	return files
}

// TestKubeconform validates every manifest in deploy/k8s against strict
// schemas of the Kubernetes API, offline, and shows that the schemas bite:
// a misspelt field and a wrong type are refused.
func TestKubeconform(t *testing.T) {
	bin := kubeconformBin(t)
	version := kubeconformVersion(t)
	schemas := t.TempDir()
	files := k8sManifests(t)
	want := map[string]bool{}
	for _, f := range files {
		for _, d := range decodeAll[struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}](t, f) {
			group, version, ok := strings.Cut(d.APIVersion, "/")
			if !ok {
				group, version = "", d.APIVersion
			}
			want[schemaName(group, version, d.Kind)] = true
		}
	}
	if n := writeSchemas(t, kubeDefinitions(t, version), schemas, want); n < 50 {
		t.Fatalf("only %d kinds in the Kubernetes definitions", n)
	}
	out, err := kubeconform(t, bin, schemas, files...)
	t.Log(out)
	if err != nil {
		t.Fatalf("kubeconform %v: %v\n%s", files, err, out)
	}
	if !strings.Contains(out, "Invalid: 0, Errors: 0, Skipped: 0") {
		t.Fatalf("kubeconform summary: want no invalid, error or skipped resource:\n%s", out)
	}

	bad := []struct{ name, from, to string }{
		{"misspelt field", "readinessProbe:", "readynessProbe:"},
		{"wrong type", "replicas: 2", "replicas: two"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("k8s", "worker.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(c.from)) {
				t.Fatalf("worker.yaml has no %q", c.from)
			}
			p := filepath.Join(t.TempDir(), "worker.yaml")
			if err := os.WriteFile(p, bytes.Replace(b, []byte(c.from), []byte(c.to), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := kubeconform(t, bin, schemas, p)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !strings.Contains(out, "Invalid: 1, Errors: 0") {
				t.Fatalf("kubeconform accepted a manifest with a %s (err %v):\n%s", c.name, err, out)
			}
		})
	}
}

// TestK8sPodSecurity checks what the restricted Pod Security Standard and
// this project ask of every container: non-root, read-only root file
// system, no privilege escalation, all capabilities dropped, RuntimeDefault
// seccomp, resources set, and probes on the ops port for sohoa itself.
func TestK8sPodSecurity(t *testing.T) {
	type container struct {
		Name            string `yaml:"name"`
		Args            []string
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
			RunAsNonRoot             bool  `yaml:"runAsNonRoot"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
	}
	type doc struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Template struct {
				Spec struct {
					SecurityContext struct {
						RunAsNonRoot bool `yaml:"runAsNonRoot"`
					} `yaml:"securityContext"`
					InitContainers []container `yaml:"initContainers"`
					Containers     []container `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	deployments := 0
	for _, f := range k8sManifests(t) {
		for _, d := range decodeAll[doc](t, f) {
			if d.Kind != "Deployment" {
				continue
			}
			deployments++
			ps := d.Spec.Template.Spec
			if !ps.SecurityContext.RunAsNonRoot {
				t.Errorf("%s: pod securityContext.runAsNonRoot is not true", d.Metadata.Name)
			}
			all := append(append([]container{}, ps.InitContainers...), ps.Containers...)
			for _, c := range all {
				sc := c.SecurityContext
				where := d.Metadata.Name + "/" + c.Name
				if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("%s: allowPrivilegeEscalation is not false", where)
				}
				if !sc.ReadOnlyRootFilesystem || !sc.RunAsNonRoot {
					t.Errorf("%s: want readOnlyRootFilesystem and runAsNonRoot", where)
				}
				if len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
					t.Errorf("%s: capabilities.drop is %v, want [ALL]", where, sc.Capabilities.Drop)
				}
				if sc.SeccompProfile.Type != "RuntimeDefault" {
					t.Errorf("%s: seccompProfile %q, want RuntimeDefault", where, sc.SeccompProfile.Type)
				}
				if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
					t.Errorf("%s: want cpu and memory requests and a memory limit", where)
				}
			}
			for _, c := range ps.Containers {
				where := d.Metadata.Name + "/" + c.Name
				if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port != "ops" {
					t.Errorf("%s: want a liveness probe on ops /healthz", where)
				}
				if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port != "ops" {
					t.Errorf("%s: want a readiness probe on ops /readyz", where)
				}
			}
		}
	}
	if deployments != 2 {
		t.Errorf("%d Deployments in deploy/k8s, want 2 (serve, worker)", deployments)
	}
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// decodeAll decodes every YAML document of file.
func decodeAll[T any](t *testing.T, file string) []T {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var out []T
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, v)
	}
}

// TestComposeSchema validates deploy/compose.yaml against the Compose
// Specification's JSON schema (the one compose-go, the library of
// `docker compose`, embeds), and shows that an unknown key is refused.
func TestComposeSchema(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := validateCompose(b); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	bad := bytes.Replace(b, []byte("healthcheck:"), []byte("healthchek:"), 1)
	if err := validateCompose(bad); err == nil {
		t.Fatal("the compose schema accepted a misspelt healthcheck")
	}
}

func validateCompose(b []byte) error {
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return err
	}
	if err := schema.Validate(m); err != nil {
		return fmt.Errorf("compose schema: %w", err)
	}
	return nil
}

// TestSystemdUnits checks that the units carry the hardening this project
// asks for and that `systemd-analyze verify` finds nothing to say about
// them (it exits 0 on unknown or malformed directives, so any output fails).
func TestSystemdUnits(t *testing.T) {
	common := []string{
		"NoNewPrivileges=true", "ProtectSystem=strict", "ProtectHome=true", "PrivateTmp=true",
		"CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter=@system-service", "ReadWritePaths=/var/lib/sohoa", "LimitNOFILE=",
		"MemoryMax=", "User=sohoa",
	}
	units := map[string][]string{
		"sohoa-serve.service":  common,
		"sohoa-worker.service": append([]string{"SOHOA_WORKER_OPS_ADDR=", "OMP_THREAD_LIMIT=1", "TimeoutStopSec=60"}, common...),
	}
	dir := t.TempDir()
	var paths []string
	for name, want := range units {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				t.Errorf("%s lacks %q", name, strings.TrimSpace(w))
			}
		}
		// verify checks that ExecStart is executable: point it at one that is.
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte("/usr/local/bin/sohoa"), []byte("/bin/true")), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	analyze := testenv.MustHaveExecPath(t, "systemd-analyze")
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// trustSettings decide what a signature is worth: the worker files a PDF
// signed under SOHOA_TRUSTED_CAS as it is, serve's /v1/verify answers with
// both. serve and worker must be given the same.
var trustSettings = []string{"SOHOA_TRUST_CA", "SOHOA_TRUSTED_CAS"}

// TestServeAndWorkerShareTrust: every deployment form sets the trust
// settings, with one value for serve and worker: compose's serve and worker
// services, the ConfigMap both Kubernetes Deployments take whole (and the
// files it names are in sohoa-files), the env file both systemd units read.
func TestServeAndWorkerShareTrust(t *testing.T) {
	t.Run("compose", func(t *testing.T) {
		b, err := os.ReadFile("compose.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Services map[string]struct {
				Command     []string       `yaml:"command"`
				Environment map[string]any `yaml:"environment"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		want := map[string]any{}
		for name, s := range c.Services {
			if len(s.Command) != 1 || (s.Command[0] != "serve" && s.Command[0] != "worker") {
				continue
			}
			seen[s.Command[0]]++
			for _, v := range trustSettings {
				got, ok := s.Environment[v]
				if !ok {
					t.Errorf("service %s does not set %s", name, v)
					continue
				}
				if w, ok := want[v]; ok && w != got {
					t.Errorf("service %s sets %s=%v, another service %v", name, v, got, w)
				}
				want[v] = got
			}
		}
		if seen["serve"] == 0 || seen["worker"] == 0 {
			t.Fatalf("compose.yaml has serve services %d, worker services %d", seen["serve"], seen["worker"])
		}
	})
	t.Run("kubernetes", func(t *testing.T) {
		type container struct {
			Name    string `yaml:"name"`
			EnvFrom []struct {
				ConfigMapRef *struct {
					Name string `yaml:"name"`
				} `yaml:"configMapRef"`
			} `yaml:"envFrom"`
			Env []struct {
				Name string `yaml:"name"`
			} `yaml:"env"`
		}
		type doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []container `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		maps := map[string]map[string]string{}
		var deployments []doc
		for _, f := range k8sManifests(t) {
			for _, d := range decodeAll[doc](t, f) {
				switch d.Kind {
				case "ConfigMap":
					maps[d.Metadata.Name] = d.Data
				case "Deployment":
					deployments = append(deployments, d)
				}
			}
		}
		settings := maps["sohoa-settings"]
		for _, v := range trustSettings {
			val, ok := settings[v]
			if !ok {
				t.Errorf("ConfigMap sohoa-settings does not set %s", v)
			}
			if rest, ok := strings.CutPrefix(val, "/etc/sohoa/conf/"); ok {
				if _, ok := maps["sohoa-files"][rest]; !ok {
					t.Errorf("%s=%s: ConfigMap sohoa-files has no %s", v, val, rest)
				}
			}
		}
		if len(deployments) != 2 {
			t.Fatalf("%d Deployments, want serve and worker", len(deployments))
		}
		for _, d := range deployments {
			for _, c := range d.Spec.Template.Spec.Containers {
				takes := false
				for _, ef := range c.EnvFrom {
					takes = takes || (ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == "sohoa-settings")
				}
				if !takes {
					t.Errorf("%s/%s does not take the ConfigMap sohoa-settings", d.Metadata.Name, c.Name)
				}
				for _, e := range c.Env {
					if slices.Contains(trustSettings, e.Name) {
						t.Errorf("%s/%s sets %s of its own", d.Metadata.Name, c.Name, e.Name)
					}
				}
			}
		}
	})
	t.Run("systemd", func(t *testing.T) {
		for _, unit := range []string{"sohoa-serve.service", "sohoa-worker.service"} {
			b, err := os.ReadFile(filepath.Join("systemd", unit))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte("\nEnvironmentFile=/etc/sohoa/sohoa.env\n")) {
				t.Errorf("%s does not read /etc/sohoa/sohoa.env", unit)
			}
			for _, v := range trustSettings {
				if bytes.Contains(b, []byte("Environment="+v+"=")) {
					t.Errorf("%s sets %s of its own", unit, v)
				}
			}
		}
		b, err := os.ReadFile("sohoa.env.example")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range trustSettings {
			if !regexp.MustCompile(`(?m)^` + v + `=`).Match(b) {
				t.Errorf("sohoa.env.example does not set %s", v)
			}
		}
	})
}
