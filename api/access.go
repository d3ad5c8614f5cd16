package api

// access.go owns read handles: short-lived tokens that tie a read of one
// result to the citizen it was found for.
//
// A client reads a result (metadata, PDF) only in the context of the
// citizen it names: POST /v1/results:search takes the citizen's ID in its
// body and returns, with each result, an access handle bound to the client,
// the result code and the keyed hash of that citizen, valid for a few
// minutes. GET /v1/results/{code} and …/pdf require the handle (?access=…
// or the X-Sohoa-Access header), so result codes, which follow a guessable
// daily sequence, cannot be enumerated to harvest PDFs, and every read is
// recorded under the citizen's hash — `sohoa audit query` finds it. Only a
// client holding the explicit scope read_by_code may read by code alone;
// its reads are recorded under the hash of the holder the manifest names.
//
// A handle carries no ID: it is the expiry, the citizen hash (HMAC with
// K_audit, as in audit records) and a MAC with a key derived from K_audit,
// so every serve process of an installation accepts every other's handles.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"
)

// ScopeReadByCode lets a client read a result by its code alone, without an
// access handle from a search (for example the agency's own archive).
const ScopeReadByCode = "read_by_code"

// accessTTL is how long a handle from a search stays usable.
const accessTTL = 15 * time.Minute

const accessVersion = 1

var errBadAccess = errors.New("access handle invalid, expired, or for another client or result")

// accessKeys issues and checks handles.
type accessKeys struct{ key []byte }

func newAccessKeys(auditKey []byte) accessKeys {
	m := hmac.New(sha256.New, auditKey)
	m.Write([]byte("sohoa access handle key v1"))
	return accessKeys{key: m.Sum(nil)}
}

func (a accessKeys) mac(clientID, code string, exp uint64, citizenHash []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], exp)
	for _, part := range [][]byte{{accessVersion}, []byte(clientID), {0}, []byte(code), {0}, e[:], citizenHash} {
		m.Write(part)
	}
	return m.Sum(nil)[:16]
}

// issue returns a handle for clientID to read code for the citizen whose
// audit hash (hex) is citizenHash, valid until now+accessTTL.
func (a accessKeys) issue(clientID, code, citizenHash string, now time.Time) (string, time.Time) {
	h, err := hex.DecodeString(citizenHash)
	if err != nil || len(h) != sha256.Size {
		return "", time.Time{} // unreachable: audit.CitizenHash is hex SHA-256
	}
	exp := now.Add(accessTTL).Truncate(time.Second)
	buf := make([]byte, 0, 1+8+len(h)+16)
	buf = append(buf, accessVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(exp.Unix()))
	buf = append(buf, h...)
	buf = append(buf, a.mac(clientID, code, uint64(exp.Unix()), h)...)
	return base64.RawURLEncoding.EncodeToString(buf), exp
}

// check verifies a handle for clientID and code at now and returns the
// citizen hash (hex) it was issued for.
func (a accessKeys) check(token, clientID, code string, now time.Time) (string, error) {
	if len(token) > 128 {
		return "", errBadAccess
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 1+8+sha256.Size+16 || b[0] != accessVersion {
		return "", errBadAccess
	}
	exp := binary.BigEndian.Uint64(b[1:9])
	h, tag := b[9:9+sha256.Size], b[9+sha256.Size:]
	if !hmac.Equal(tag, a.mac(clientID, code, exp, h)) {
		return "", errBadAccess
	}
	if now.Unix() > int64(exp) {
		return "", errBadAccess
	}
	return hex.EncodeToString(h), nil
}
