package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id parameters of new password hashes. A stored
// hash carries the parameters it was made with, so they can be raised
// later without invalidating a password.
type Argon2Params struct {
	Time      uint32 // passes over the memory
	MemoryKiB uint32
	Threads   uint8
	SaltLen   uint32 // bytes of random salt, per password
	KeyLen    uint32 // bytes of the derived tag
}

// DefaultArgon2 is RFC 9106 §4's second recommended option, for machines
// that cannot spend 2 GiB on a hash: argon2id, t=3 passes, m=64 MiB, p=4
// lanes, a 128-bit random salt per password and a 256-bit tag. One hash
// takes about 0.1–0.2 s on a 2-core server; Accounts bounds how many run at
// once (MaxHashing), so a flood of sign-ins cannot exhaust memory.
func DefaultArgon2() Argon2Params {
	return Argon2Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4, SaltLen: 16, KeyLen: 32}
}

// Password limits: at least MinPasswordLen characters, at most
// MaxPasswordBytes bytes (longer input is refused before hashing).
const (
	MinPasswordLen   = 12
	MaxPasswordBytes = 256
)

// ErrWeakPassword: a chosen password is too short or too long.
var ErrWeakPassword = fmt.Errorf("a password needs %d to %d bytes (at least %d characters)", MinPasswordLen, MaxPasswordBytes, MinPasswordLen)

// CheckPasswordPolicy refuses a password staff may not choose.
func CheckPasswordPolicy(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLen || len(pw) > MaxPasswordBytes || strings.TrimSpace(pw) != pw {
		return ErrWeakPassword
	}
	return nil
}

var b64 = base64.RawStdEncoding

// hashPassword returns the PHC string of password under p:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<tag> (unpadded base64).
func hashPassword(p Argon2Params, password string) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	tag := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(tag)), nil
}

var errBadHash = errors.New("stored password hash is malformed")

// checkPassword reports whether password matches the PHC string encoded,
// comparing tags in constant time.
func checkPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil ||
		p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20 || p.Time > 100 {
		return false, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// passwordAlphabet has no look-alikes (0/o, 1/l/i): generated passwords
// are read off a screen and typed.
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// GeneratePassword returns a random password of four groups of five
// characters, "abcde-fghjk-mnpqr-stuvw": 20 symbols of a 31-letter
// alphabet, about 99 bits.
func GeneratePassword() (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for n := 0; n < 20; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		if int(buf[0]) >= 256/len(passwordAlphabet)*len(passwordAlphabet) {
			continue // no modulo bias
		}
		if n > 0 && n%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(passwordAlphabet[int(buf[0])%len(passwordAlphabet)])
		n++
	}
	return b.String(), nil
}
