// Package audit is the append-only, hash-chained log of every reuse-API
// request — who asked, for what purpose, about which citizen (as a keyed hash
// under K_audit, never the ID), what was returned and what was decided — and
// of every staff sign-in, sign-out and action in the web app (the staff
// account as its keyed ID, never the user name).
//
// Each running Log is one writer with its own chain, so any number of
// processes can log to one bucket without coordinating: a writer has a
// random ID, and its chain lives under storage.AuditChainPrefix(writer).
// Records of a chain are numbered from 1 and each carries the hash of its
// predecessor, so removing, reordering or editing any record breaks the
// chain. Record 1 is an open record (EventOpen) naming the writer, its start
// and the last record of every other chain the writer saw when it started,
// so a later chain vouches for the extent of the earlier ones; the last
// record of a stopped writer's chain is a close record (EventClose).
//
// Records are written to object storage in batches (one create-once object
// per batch) and, before that, to the writer's local write-ahead log, so a
// killed process loses nothing that was acknowledged to a caller: the next
// Log opened on the same WAL folder stores what the dead writer left, in the
// dead writer's chain, and closes that chain.
package audit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sohoa/storage"
)

// Decision values.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Event values: records that are not requests.
const (
	// EventOpen is record 1 of every chain: its writer, its start (Time)
	// and the heads of the other chains at that moment.
	EventOpen = "open"
	// EventClose is the last record of a chain: its writer stopped (Rule
	// "stopped"), or died and another writer stored what its write-ahead
	// log held (Rule "replayed").
	EventClose = "close"
)

// Head is the last stored record of a chain, as a writer saw it.
type Head struct {
	Writer string `json:"writer"`
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"`
}

// Returned is one result handed to a caller.
type Returned struct {
	ResultCode string `json:"result_code"`
	SHA256     string `json:"sha256,omitempty"`
}

// Record is one request, or one event of its chain (Event set). The zero
// value of every optional field is omitted.
type Record struct {
	Writer     string    `json:"writer"` // the chain: storage.ValidAuditWriter
	Seq        uint64    `json:"seq"`
	Event      string    `json:"event,omitempty"` // "" for a request; EventOpen, EventClose
	Time       time.Time `json:"time"`
	RequestID  string    `json:"request_id"`
	ClientID   string    `json:"client_id,omitempty"`
	AuthMethod string    `json:"auth_method,omitempty"` // mtls, jwt, mtls+jwt, public
	CertSHA256 string    `json:"cert_sha256,omitempty"`
	// Staff is the staff account of a web-app request (sign-in, sign-out,
	// an action): its ID, storage.StaffAccount, a keyed hash of the user
	// name typed — never the name itself, and never a password. StaffRole
	// and Office are the account's role and office (agency) code, when
	// the account exists.
	Staff     string `json:"staff,omitempty"`
	StaffRole string `json:"staff_role,omitempty"`
	Office    string `json:"office,omitempty"`
	// Purpose: procedure code and the new dossier code the reuse serves.
	PurposeProcedure string `json:"purpose_procedure,omitempty"`
	PurposeDossier   string `json:"purpose_dossier,omitempty"`
	Method           string `json:"method"`
	Endpoint         string `json:"endpoint"` // the route pattern, never a raw URL
	ResultCode       string `json:"result_code,omitempty"`
	// Target is what a staff action was on, when not a result: an input
	// key, a batch ID, a staff account ID; for a reuse-API dossier check or
	// pre-fill by procedure, the procedure code (never personal data).
	Target string `json:"target,omitempty"`
	// CitizenHash is CitizenHash(K_audit, idType, id); never the raw ID.
	CitizenHash string     `json:"citizen_hash,omitempty"`
	Returned    []Returned `json:"returned,omitempty"`
	// Released names the personal data fields a pre-fill answer released
	// (vocabulary field names, sorted; never their values).
	Released  []string `json:"released,omitempty"`
	Decision  string   `json:"decision"`
	Rule      string   `json:"rule"`
	Status    int      `json:"status"`
	LatencyUS int64    `json:"latency_us"`
	// Heads, in an open record: the last stored record of every other
	// chain when this writer started.
	Heads    []Head `json:"heads,omitempty"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash,omitempty"`
}

// computeHash returns the hex SHA-256 of the record's canonical JSON with the
// Hash field empty. encoding/json writes struct fields in declaration order,
// so the encoding is deterministic.
func (r Record) computeHash() (string, error) {
	r.Hash = ""
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("audit: encode record %d: %w", r.Seq, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// GenesisHash is the PrevHash of record 1 of every chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// CitizenHash is the keyed hash of a citizen identifier used in audit records:
// hex HMAC-SHA256(K_audit, idType‖0x00‖id) over the identifier normalised by
// storage.NormalizeHolderID. K_audit must differ from the index key so a
// leaked log cannot be joined with the citizen index.
func CitizenHash(key []byte, idType, id string) string {
	if t, n, err := storage.NormalizeHolderID(idType, id); err == nil {
		idType, id = t, n
	} else {
		idType, id = strings.ToUpper(strings.TrimSpace(idType)), strings.Join(strings.Fields(id), "")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(idType))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

// jsonLine encodes a record as one JSON line.
func jsonLine(r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encode record %d: %w", r.Seq, err)
	}
	return append(b, '\n'), nil
}

// NewWriter returns a fresh random writer ID (80 bits, 16 characters of
// lowercase base32, storage.ValidAuditWriter).
func NewWriter() (string, error) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("audit: writer ID: %w", err)
		}
		if w := strings.ToLower(enc.EncodeToString(b)); storage.ValidAuditWriter(w) {
			return w, nil
		}
	}
}
