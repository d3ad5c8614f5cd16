package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// appConfig holds the settings shared by the subcommands that run the
// pipeline. Every field has a SOHOA_* environment default that matches the
// local stack, so `make demo` needs no configuration.
type appConfig struct {
	RedisAddr     string
	RedisPassword string
	RedisDB       int
	LocalDir      string
	AgencyCode    string
	AgencyName    string
	VerifyBaseURL string
}

func loadAppConfig() appConfig {
	local := envOr("SOHOA_LOCAL_DIR", ".local")
	return appConfig{
		RedisAddr:     envOr("SOHOA_REDIS_ADDR", "127.0.0.1:16379"),
		RedisPassword: envOr("SOHOA_REDIS_PASSWORD", ""),
		RedisDB:       envInt("SOHOA_REDIS_DB", 0),
		LocalDir:      local,
		AgencyCode:    envOr("SOHOA_AGENCY_CODE", "000.00.00.H00"),
		AgencyName:    envOr("SOHOA_AGENCY_NAME", "Cơ quan thử nghiệm sohoa"),
		VerifyBaseURL: envOr("SOHOA_VERIFY_BASE_URL", "https://127.0.0.1:18443"),
	}
}

func (c appConfig) keysDir() string {
	return envOr("SOHOA_KEYS_DIR", filepath.Join(c.LocalDir, "keys"))
}

func (c appConfig) redisOpt() asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: c.RedisAddr, Password: c.RedisPassword, DB: c.RedisDB}
}

// checkRedis refuses a Redis that can lose or evict queue state: asynq's
// lease and task keys must survive restarts (AOF) and memory pressure
// (noeviction). See reliability.md §1.
func checkRedis(ctx context.Context, c appConfig) error {
	rdb := redis.NewClient(&redis.Options{Addr: c.RedisAddr, Password: c.RedisPassword, DB: c.RedisDB})
	defer rdb.Close()
	get := func(name string) (string, error) {
		v, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", fmt.Errorf("redis %s: CONFIG GET %s: %w", c.RedisAddr, name, err)
		}
		return v[name], nil
	}
	aof, err := get("appendonly")
	if err != nil {
		return err
	}
	policy, err := get("maxmemory-policy")
	if err != nil {
		return err
	}
	var errs []error
	if aof != "yes" {
		errs = append(errs, fmt.Errorf("redis %s: appendonly is %q; set appendonly yes so queued work survives a restart", c.RedisAddr, aof))
	}
	if policy != "noeviction" {
		errs = append(errs, fmt.Errorf("redis %s: maxmemory-policy is %q; set noeviction so task leases are never evicted", c.RedisAddr, policy))
	}
	return errors.Join(errs...)
}

func envInt(name string, def int) int {
	if v, ok := lookupEnv(name); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n
		}
	}
	return def
}
