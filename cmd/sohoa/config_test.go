package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestCheckRedisRefusesVolatileConfig starts real redis-servers and checks
// the worker's startup guard: AOF off or an evicting memory policy is
// refused with a message naming the setting; the right config passes.
func TestCheckRedisRefusesVolatileConfig(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required (make deps installs it)")
		}
		t.Skip("redis-server not installed")
	}
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
			err := checkRedis(context.Background(), appConfig{RedisAddr: addr})
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
