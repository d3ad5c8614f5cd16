package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sohoa/storage"
	"sohoa/storage/s3"
)

// storeConfig is how the repository is reached: the S3 bucket and the
// index and seal key rings.
type storeConfig struct {
	S3       s3.Config
	IndexKey string // "kid:hex,kid:hex" (first is current) or bare hex; "" = dev key file
	SealKey  string
	KeysDir  string // where dev keys live
}

// loadStoreConfig reads SOHOA_S3_* and the key settings; the defaults match
// the local stack (deploy/local/stack.sh).
func loadStoreConfig() (storeConfig, error) {
	secure, err := strconv.ParseBool(envOr("SOHOA_S3_SECURE", "false"))
	if err != nil {
		return storeConfig{}, fmt.Errorf("SOHOA_S3_SECURE: %w", err)
	}
	days, err := strconv.Atoi(envOr("SOHOA_RETENTION_DAYS", "1"))
	if err != nil || days < 1 {
		return storeConfig{}, fmt.Errorf("SOHOA_RETENTION_DAYS: want a positive number of days")
	}
	create, err := strconv.ParseBool(envOr("SOHOA_S3_CREATE", "true"))
	if err != nil {
		return storeConfig{}, fmt.Errorf("SOHOA_S3_CREATE: %w", err)
	}
	return storeConfig{
		S3: s3.Config{
			Endpoint:      envOr("SOHOA_S3_ENDPOINT", "127.0.0.1:17070"),
			AccessKey:     envOr("SOHOA_S3_ACCESS_KEY", ""),
			SecretKey:     envOr("SOHOA_S3_SECRET_KEY", ""),
			Bucket:        envOr("SOHOA_S3_BUCKET", "sohoa"),
			Secure:        secure,
			Region:        envOr("SOHOA_S3_REGION", ""),
			Create:        create,
			LockMode:      envOr("SOHOA_LOCK_MODE", "GOVERNANCE"),
			RetentionDays: days,
		},
		IndexKey: os.Getenv("SOHOA_INDEX_KEY"),
		SealKey:  os.Getenv("SOHOA_SEAL_KEY"),
		KeysDir:  filepath.Join(envOr("SOHOA_LOCAL_DIR", ".local"), "keys"),
	}, nil
}

// openRepository opens the e-result repository the environment describes.
func openRepository(ctx context.Context) (*storage.Repository, error) {
	cfg, err := loadStoreConfig()
	if err != nil {
		return nil, err
	}
	return cfg.open(ctx)
}

func (c storeConfig) open(ctx context.Context) (*storage.Repository, error) {
	keys, err := c.keys()
	if err != nil {
		return nil, err
	}
	b, err := s3.Open(ctx, c.S3)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	return storage.New(b, storage.Options{Keys: keys, Logger: newLogger(os.Stderr)})
}

func (c storeConfig) keys() (storage.Keys, error) {
	var k storage.Keys
	var err error
	if k.IndexKeys, k.IndexKID, err = c.ring("SOHOA_INDEX_KEY", c.IndexKey, "index.key"); err != nil {
		return storage.Keys{}, err
	}
	if k.SealKeys, k.SealKID, err = c.ring("SOHOA_SEAL_KEY", c.SealKey, "seal.key"); err != nil {
		return storage.Keys{}, err
	}
	return k, nil
}

// ring parses a key ring from the environment value, or from the dev key
// file (created once, mode 0600) when the value is empty.
func (c storeConfig) ring(env, value, file string) (map[string][]byte, string, error) {
	if value != "" {
		keys, cur, err := storage.ParseKeyRing(value)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", env, err)
		}
		return keys, cur, nil
	}
	path := filepath.Join(c.KeysDir, file)
	data, err := ensureDevKey(path)
	if err != nil {
		return nil, "", err
	}
	keys, cur, err := storage.ParseKeyRing(string(data))
	if err != nil {
		return nil, "", fmt.Errorf("dev key %s: %w", path, err)
	}
	return keys, cur, nil
}

// ensureDevKey reads path, creating it first with a fresh random key ring
// "dev1:<hex>" if it does not exist. O_EXCL makes concurrent first starts
// agree on one key.
func ensureDevKey(path string) ([]byte, error) {
	if data, err := os.ReadFile(path); err == nil {
		return data, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readWhenWritten(path)
	}
	if err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	line := "dev1:" + hex.EncodeToString(key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return nil, fmt.Errorf("dev key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	return []byte(line), nil
}

// readWhenWritten reads a key file another process is creating right now.
func readWhenWritten(path string) ([]byte, error) {
	for range 50 {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("dev key: %w", err)
		}
		if strings.HasSuffix(string(data), "\n") {
			return data, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("dev key %s: incomplete", path)
}
