package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"sohoa/internal/testenv"
)

// TestCheckRedisRefusesVolatileConfig starts real redis-servers and checks
// the worker's startup guard: AOF off or an evicting memory policy is
// refused with a message naming the setting; the right config passes.
func TestCheckRedisRefusesVolatileConfig(t *testing.T) {
	bin := testenv.MustHaveExecPath(t, "redis-server")
	tests := []struct {
		name      string
		args      []string
		wantError []string
	}{
		{"durable", []string{"--appendonly", "yes", "--maxmemory-policy", "noeviction"}, nil},
		{"no aof", []string{"--appendonly", "no", "--maxmemory-policy", "noeviction"}, []string{"appendonly"}},
		{"evicting", []string{"--appendonly", "yes", "--maxmemory-policy", "volatile-lru"}, []string{"maxmemory-policy", "volatile-lru"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := freeAddr(t)
			port := addr[strings.LastIndex(addr, ":")+1:]
			args := append([]string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--dir", t.TempDir()}, tt.args...)
			cmd := exec.Command(bin, args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			defer rdb.Close()
			for i := 0; rdb.Ping(context.Background()).Err() != nil; i++ {
				if i > 100 {
					t.Fatal("redis-server did not start")
				}
				time.Sleep(50 * time.Millisecond)
			}
			err := checkRedis(context.Background(), testConfig(t, "SOHOA_REDIS_ADDR="+addr))
			if tt.wantError == nil {
				if err != nil {
					t.Fatalf("checkRedis = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkRedis accepted %v", tt.args)
			}
			for _, w := range tt.wantError {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

// TestBadFlagsExitTwo: every subcommand answers an unknown flag with exit 2
// and its usage.
func TestBadFlagsExitTwo(t *testing.T) {
	for name := range commands() {
		args := []string{name}
		switch name {
		case "review":
			args = append(args, "list")
		case "result":
			args = append(args, "show")
		case "index":
			args = append(args, "lint")
		case "audit":
			args = append(args, "verify")
		case "keys":
			args = append(args, "init")
		}
		args = append(args, "--no-such-flag")
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), args, environ{}, &out, &errOut); code != 2 {
				t.Errorf("sohoa %v: exit %d, want 2; stderr: %s", args, code, errOut.String())
			}
			if !strings.Contains(errOut.String(), "usage: sohoa "+name) {
				t.Errorf("sohoa %v printed no usage: %s", args, errOut.String())
			}
		})
	}
}

// TestBadEnvironmentValueExitsTwo: a malformed variable is a usage error that
// names the variable.
func TestBadEnvironmentValueExitsTwo(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, kv := range []string{"SOHOA_S3_SECURE=maybe", "SOHOA_REDIS_DB=x", "SOHOA_RETENTION_DAYS=0", "SOHOA_LOG_LEVEL=loud", "SOHOA_LOCK_MODE=soft"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"worker"}, environFrom([]string{"SOHOA_DEV=1", kv}), &out, &errOut)
		name, _, _ := strings.Cut(kv, "=")
		if code != 2 || !strings.Contains(errOut.String(), name) {
			t.Errorf("%s: exit %d, stderr %q; want 2 naming %s", kv, code, errOut.String(), name)
		}
	}
}

// TestOneBooleanParser: every boolean setting reads the same words.
func TestOneBooleanParser(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		ok   bool
	}{{"1", true, true}, {"true", true, true}, {"YES", true, true}, {"on", true, true}, {"0", false, true},
		{"false", false, true}, {"no", false, true}, {"", false, true}, {"maybe", false, false}} {
		got, err := parseBool(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseBool(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	cfg := testConfig(t, "SOHOA_S3_SECURE=yes", "SOHOA_BACKFILL_S3_SECURE=0")
	if !cfg.S3.Secure || cfg.backfillS3("b").Secure {
		t.Errorf("S3 secure %v, backfill secure %v; want true, false", cfg.S3.Secure, cfg.backfillS3("b").Secure)
	}
	if !testConfig(t, "SOHOA_S3_SECURE=true").backfillS3("b").Secure {
		t.Error("backfill does not fall back to SOHOA_S3_SECURE")
	}
}

// TestFlagOverridesEnvironment: the environment gives the default, the flag
// wins.
func TestFlagOverridesEnvironment(t *testing.T) {
	fs := newFlagSet("worker", "", environ{"SOHOA_DEV": "1", "SOHOA_REDIS_ADDR": "10.0.0.1:6379", "SOHOA_OCR_CHILDREN": "3"}, io.Discard, groupsWorker)
	cfg, err := fs.parse([]string{"--redis-addr", "127.0.0.2:6379"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Addr != "127.0.0.2:6379" || cfg.Worker.OCRChildren != 3 {
		t.Errorf("redis %q, children %d; want the flag's address and the environment's 3", cfg.Redis.Addr, cfg.Worker.OCRChildren)
	}
}

// TestHelpListsEverySetting: `sohoa help` names every variable with its
// default, and `sohoa CMD -h` every setting the command reads.
func TestHelpListsEverySetting(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"help"}, environ{}, &out, &errOut); code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, s := range settings() {
		line := ""
		for _, l := range strings.Split(errOut.String(), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == s.env { // its own line, not another's usage naming it
				line = l
			}
		}
		if line == "" || (s.def != "" && !strings.Contains(line, s.def)) {
			t.Errorf("help lacks %s with default %q", s.env, s.def)
		}
	}
	for name, c := range commands() {
		errOut.Reset()
		if code := run(context.Background(), []string{name, "-h"}, environ{}, &out, &errOut); code != 0 && name != "review" && name != "result" && name != "audit" && name != "index" && name != "keys" {
			t.Errorf("sohoa %s -h: exit %d", name, code)
		}
		errOut.Reset()
		run(context.Background(), []string{"help", name}, environ{}, &out, &errOut)
		for _, s := range settings() {
			if (c.groups|gCore)&s.group != 0 && !strings.Contains(errOut.String(), s.env) {
				t.Errorf("sohoa help %s does not list %s", name, s.env)
			}
		}
	}
}

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's configuration table from settings()")

// TestREADMEConfigTable keeps README.md's configuration table equal to the
// settings the binary reads (go test -run TestREADMEConfigTable -update-readme).
func TestREADMEConfigTable(t *testing.T) {
	const begin, end = "<!-- settings:begin (generated by TestREADMEConfigTable) -->\n", "<!-- settings:end -->"
	path := "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q … %q", strings.TrimSpace(begin), end)
	}
	want := settingsTable()
	got := s[i+len(begin) : j]
	if got == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's configuration table differs from settings(); run go test ./cmd/sohoa -run TestREADMEConfigTable -update-readme\n--- got\n%s\n--- want\n%s", got, want)
}

// TestWebSettings: the staff web app's settings parse, and malformed ones
// are usage errors that name the variable.
func TestWebSettings(t *testing.T) {
	cfg := testConfig(t, "SOHOA_PUBLIC_URL=https://sohoa.example.gov.vn/", "SOHOA_SESSION_IDLE=20m", "SOHOA_SESSION_MAX=8h",
		"SOHOA_SIGNIN_MAX_FAILURES=5", "SOHOA_SIGNIN_LOCKOUT=30m")
	if w := cfg.Web; w.PublicURL != "https://sohoa.example.gov.vn" || w.SessionIdle != 20*time.Minute || w.SessionMax != 8*time.Hour ||
		w.MaxFailures != 5 || w.Lockout != 30*time.Minute {
		t.Errorf("web settings = %+v", w)
	}
	if d := testConfig(t).Web; d.PublicURL != "" || d.SessionIdle != 30*time.Minute || d.SessionMax != 12*time.Hour || d.MaxFailures != 10 || d.Lockout != 15*time.Minute {
		t.Errorf("default web settings = %+v", d)
	}
	for _, kv := range []string{"SOHOA_PUBLIC_URL=ftp://x", "SOHOA_PUBLIC_URL=https://x/app", "SOHOA_PUBLIC_URL=sohoa.example", "SOHOA_SESSION_IDLE=0",
		"SOHOA_SESSION_MAX=-1h", "SOHOA_SIGNIN_MAX_FAILURES=0", "SOHOA_SIGNIN_LOCKOUT=soon"} {
		_, err := newFlagSet("serve", "", environFrom([]string{"SOHOA_DEV=1", kv}), io.Discard, commands()["serve"].groups).parse(nil)
		name, _, _ := strings.Cut(kv, "=")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want exit 2 naming %s", kv, err, name)
		}
	}
}

// TestRedisSentinelOption: with SOHOA_REDIS_SENTINELS every Redis client
// is a failover client asking those sentinels for SOHOA_REDIS_MASTER.
func TestRedisSentinelOption(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		wantFail   bool
		sentinels  []string
		master     string
		wantPrefix string
	}{
		{"one redis", []string{"SOHOA_REDIS_ADDR=127.0.0.1:6000"}, false, nil, "", "127.0.0.1:6000"},
		{"sentinels", []string{"SOHOA_REDIS_SENTINELS= 127.0.0.1:26390,127.0.0.1:26391 ,", "SOHOA_REDIS_MASTER=prov", "SOHOA_REDIS_PASSWORD=pw"},
			true, []string{"127.0.0.1:26390", "127.0.0.1:26391"}, "prov", "sentinel master prov"},
		{"default master", []string{"SOHOA_REDIS_SENTINELS=127.0.0.1:26390"}, true, []string{"127.0.0.1:26390"}, "sohoa", "sentinel master sohoa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.env...)
			opt := cfg.redisOpt()
			fo, isFailover := opt.(asynq.RedisFailoverClientOpt)
			if isFailover != tt.wantFail {
				t.Fatalf("redisOpt() = %T", opt)
			}
			if isFailover {
				if !slices.Equal(fo.SentinelAddrs, tt.sentinels) || fo.MasterName != tt.master {
					t.Errorf("failover option %v %q, want %v %q", fo.SentinelAddrs, fo.MasterName, tt.sentinels, tt.master)
				}
				if fo.Password != cfg.Redis.Password {
					t.Errorf("password not passed to the primary")
				}
			}
			if got := cfg.redisName(); !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("redisName() = %q, want prefix %q", got, tt.wantPrefix)
			}
			rdb, err := cfg.redisClient()
			if err != nil {
				t.Fatal(err)
			}
			rdb.Close()
		})
	}
}
