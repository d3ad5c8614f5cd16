package main

// keys.go owns sohoa's secret key material: the repository key rings (index
// HMAC and seal), K_audit, K_qr and K_staff. Each comes from its SOHOA_* variable or
// from its file in the keys folder. Development mode alone creates missing
// files; `sohoa keys init` creates production ones.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sohoa/storage"
)

// keyFile describes one secret: its variable, its file in the keys folder,
// and whether it is a key ring ("kid:hex,…") or a bare hex key.
type keyFile struct {
	env, file string
	ring      bool
}

var (
	indexKeyFile = keyFile{"SOHOA_INDEX_KEY", "index.key", true}
	sealKeyFile  = keyFile{"SOHOA_SEAL_KEY", "seal.key", true}
	auditKeyFile = keyFile{"SOHOA_AUDIT_KEY", "audit.key", false}
	qrKeyFile    = keyFile{"SOHOA_QR_KEY", "qr.key", false}
	staffKeyFile = keyFile{"SOHOA_STAFF_KEY", "staff.key", false}
	intakeToken  = keyFile{"SOHOA_INTAKE_TOKEN", "intake.token", false}
	opsTokenFile = keyFile{"SOHOA_OPS_TOKEN", "ops.token", false}
)

// secret returns the text of k: value when set, else the file in the keys
// folder; in development mode a missing file is created first.
func (c *config) secret(k keyFile, value string) (string, error) {
	if v := strings.TrimSpace(value); v != "" {
		return v, nil
	}
	dir := c.keysDir()
	if dir == "" {
		return "", fmt.Errorf("%s is unset and there is no SOHOA_KEYS_DIR holding %s", k.env, k.file)
	}
	path := filepath.Join(dir, k.file)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return strings.TrimSpace(string(data)), nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s: %w", k.env, err)
	case !c.Dev:
		return "", fmt.Errorf("%s is unset and %s does not exist (create it with `sohoa keys init %s`)", k.env, path, dir)
	}
	text, err := createKeyFile(path, k.ring, "dev")
	if err != nil {
		return "", fmt.Errorf("development %s: %w", k.file, err)
	}
	return text, nil
}

// ring parses the key ring k.
func (c *config) ring(k keyFile, value string) (map[string][]byte, string, error) {
	text, err := c.secret(k, value)
	if err != nil {
		return nil, "", err
	}
	keys, cur, err := storage.ParseKeyRing(text)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", k.env, err)
	}
	return keys, cur, nil
}

// hexKey parses the bare hex key k (at least 32 bytes).
func (c *config) hexKey(k keyFile, value string) ([]byte, error) {
	text, err := c.secret(k, value)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(text)
	if err != nil || len(b) < 32 {
		return nil, fmt.Errorf("%s: want at least 64 hex digits", k.env)
	}
	return b, nil
}

func (c *config) repositoryKeys() (storage.Keys, error) {
	var k storage.Keys
	var err error
	if k.IndexKeys, k.IndexKID, err = c.ring(indexKeyFile, c.IndexKey); err != nil {
		return storage.Keys{}, err
	}
	if k.SealKeys, k.SealKID, err = c.ring(sealKeyFile, c.SealKey); err != nil {
		return storage.Keys{}, err
	}
	return k, nil
}

func (c *config) qrKey() ([]byte, error) { return c.hexKey(qrKeyFile, c.QRKey) }

// intakeToken is the bearer token of the counter intake.
func (c *config) intakeToken() (string, error) { return c.secret(intakeToken, c.Intake.Token) }
func (c *config) auditKey() ([]byte, error)    { return c.hexKey(auditKeyFile, c.AuditKey) }

// opsToken is the bearer token of the queue monitor.
func (c *config) opsToken() (string, error) { return c.secret(opsTokenFile, c.Ops.Token) }

// staffKey is K_staff, the key of staff account IDs.
func (c *config) staffKey() ([]byte, error) { return c.hexKey(staffKeyFile, c.StaffKey) }

// createKeyFile writes a fresh 32-byte key to path, mode 0600, and returns
// its text. A ring gets the key ID "<kind>-<8 random hex>", which no other
// installation's keys will share (key IDs appear in index object keys and
// are at most 16 characters). The key is written to a temporary file and
// hard-linked into place, which fails if path exists: concurrent first
// starts agree on one key, an existing file is never overwritten, and no
// process ever reads a file half written.
func createKeyFile(path string, ring bool, kind string) (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	line := hex.EncodeToString(key)
	if ring {
		suffix := make([]byte, 4)
		if _, err := rand.Read(suffix); err != nil {
			return "", err
		}
		line = fmt.Sprintf("%s-%s:%s", kind, hex.EncodeToString(suffix), line)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(line + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	switch err := os.Link(tmp.Name(), path); {
	case errors.Is(err, fs.ErrExist):
		data, err := os.ReadFile(path) // another process's, complete
		return strings.TrimSpace(string(data)), err
	case err != nil:
		return "", err
	}
	return line, nil
}

// productionKeys are the key files `sohoa keys init` makes.
func productionKeys() []keyFile {
	return []keyFile{indexKeyFile, sealKeyFile, auditKeyFile, qrKeyFile, staffKeyFile, intakeToken, opsTokenFile}
}

// runKeys: sohoa keys init DIR — production key files for an operator.
func runKeys(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "init" {
		return fs.usageErr("want `keys init DIR`")
	}
	if _, err := fs.parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fs.usageErr("want exactly one DIR")
	}
	dir := fs.Arg(0)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keys init: %w", err)
	}
	for _, k := range productionKeys() {
		path := filepath.Join(dir, k.file)
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("keys init: %s exists; keys are never overwritten (rotate by adding a key to the ring)", path)
		}
	}
	for _, k := range productionKeys() {
		if _, err := createKeyFile(filepath.Join(dir, k.file), k.ring, strings.TrimSuffix(k.file, ".key")); err != nil {
			return fmt.Errorf("keys init: %w", err)
		}
		fmt.Fprintf(stdout, "created %s (mode 0600)\n", filepath.Join(dir, k.file))
	}
	fmt.Fprintf(stdout, "\nSet SOHOA_KEYS_DIR=%s for serve and worker. Back these files up offline: without\n"+
		"index.key no citizen can be found, without seal.key no sealed record can be read,\n"+
		"without staff.key no staff account can sign in.\n", dir)
	return nil
}
