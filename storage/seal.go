package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
)

// Keys holds the versioned secrets of a repository. Each map goes from a key
// id (kid, short, stored beside what it protects) to a 32-byte key; the
// current kid is used for new writes, all kids for reading, so keys rotate
// by adding a kid and making it current.
type Keys struct {
	// IndexKeys are HMAC-SHA256 keys for the citizen index (K_index).
	IndexKeys map[string][]byte
	IndexKID  string
	// SealKeys are AES-256-GCM keys for the holder envelope.
	SealKeys map[string][]byte
	SealKID  string
}

var kidRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,15}$`)

func (k Keys) validate() error {
	for _, ring := range []struct {
		name string
		keys map[string][]byte
		cur  string
	}{{"index", k.IndexKeys, k.IndexKID}, {"seal", k.SealKeys, k.SealKID}} {
		if _, ok := ring.keys[ring.cur]; !ok {
			return fmt.Errorf("%s keys: current kid %q has no key: %w", ring.name, ring.cur, ErrInvalid)
		}
		for kid, key := range ring.keys {
			if !validKID(kid) {
				return fmt.Errorf("%s keys: kid %q: want [a-z0-9][a-z0-9_-]{0,15} with at most %d digits in a row: %w", ring.name, kid, maxKIDDigits, ErrInvalid)
			}
			if len(key) != 32 {
				return fmt.Errorf("%s keys: kid %q: want 32 bytes, got %d: %w", ring.name, kid, len(key), ErrInvalid)
			}
		}
	}
	return nil
}

// ParseKeyRing parses "kid:hex,kid:hex,…" (the first entry is current) or a
// bare hex key (kid "k1"). Keys are 32 bytes (64 hex digits).
func ParseKeyRing(s string) (keys map[string][]byte, current string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, "", fmt.Errorf("key ring: empty: %w", ErrInvalid)
	}
	keys = make(map[string][]byte)
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		kid, hx, ok := strings.Cut(part, ":")
		if !ok {
			kid, hx = "k1", part
		}
		if !validKID(kid) {
			return nil, "", fmt.Errorf("key ring entry %d: bad kid: %w", i+1, ErrInvalid)
		}
		key, err := hex.DecodeString(hx)
		if err != nil || len(key) != 32 {
			// Never echo the value: it is a secret.
			return nil, "", fmt.Errorf("key ring entry %d (kid %s): want 64 hex digits: %w", i+1, kid, ErrInvalid)
		}
		if _, dup := keys[kid]; dup {
			return nil, "", fmt.Errorf("key ring: duplicate kid %s: %w", kid, ErrInvalid)
		}
		keys[kid] = key
		if i == 0 {
			current = kid
		}
	}
	return keys, current, nil
}

// FormatKeyRing is the inverse of ParseKeyRing, current kid first.
func FormatKeyRing(keys map[string][]byte, current string) string {
	kids := make([]string, 0, len(keys))
	for kid := range keys {
		if kid != current {
			kids = append(kids, kid)
		}
	}
	sort.Strings(kids)
	parts := []string{current + ":" + hex.EncodeToString(keys[current])}
	for _, kid := range kids {
		parts = append(parts, kid+":"+hex.EncodeToString(keys[kid]))
	}
	return strings.Join(parts, ",")
}

// Holder ID types (domain.md §4(a)).
const (
	IDTypeCCCD     = "CCCD"
	IDTypePassport = "PASSPORT"
	IDTypeMST      = "MST"
	IDTypeMSDN     = "MSDN"
)

var (
	cccdRe     = regexp.MustCompile(`^\d{12}$`)
	passportRe = regexp.MustCompile(`^[A-Z0-9]{6,12}$`)
	taxRe      = regexp.MustCompile(`^\d{10}(-\d{3})?$`)
)

// NormalizeHolderID upper-cases idType, strips spaces from id and checks the
// format only (a CCCD is any 12 digits: the province code is never judged,
// domain.md §1.2). Errors never contain the ID.
func NormalizeHolderID(idType, id string) (string, string, error) {
	idType = strings.ToUpper(strings.TrimSpace(idType))
	id = strings.ToUpper(strings.Join(strings.Fields(id), ""))
	var re *regexp.Regexp
	switch idType {
	case IDTypeCCCD:
		re = cccdRe
	case IDTypePassport:
		re = passportRe
	case IDTypeMST, IDTypeMSDN:
		re = taxRe
	default:
		return "", "", fmt.Errorf("holder id type %q: want CCCD, PASSPORT, MST or MSDN: %w", idType, ErrInvalid)
	}
	if !re.MatchString(id) {
		return "", "", fmt.Errorf("holder id: malformed %s (%d characters): %w", idType, len(id), ErrInvalid)
	}
	return idType, id, nil
}

// MaskID hides a personal ID for display, keeping its length and last four
// characters: "001099872198" → "********2198". Surrounding space is
// dropped; an ID of four characters or fewer is all stars.
func MaskID(id string) string {
	r := []rune(strings.TrimSpace(id))
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

// indexHMAC is HMAC-SHA256(key, idType‖0x00‖id) in key base32, over the
// normalised type and ID.
func indexHMAC(key []byte, idType, id string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(idType))
	mac.Write([]byte{0})
	mac.Write([]byte(id))
	return keyHash(mac.Sum(nil))
}

// Envelope is AES-256-GCM ciphertext with the kid of the key that sealed it.
// Byte fields are base64 in JSON.
type Envelope struct {
	KID        string `json:"kid"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ct"`
}

// Sealed is what the envelope protects: everything that names the holder.
type Sealed struct {
	IDType    string                    `json:"id_type"`
	ID        string                    `json:"id"`
	Name      string                    `json:"name"`
	Extracted map[string]ExtractedField `json:"extracted,omitempty"`
}

// String never prints the contents, so a Sealed value that reaches a log
// line or an error message leaks nothing.
func (Sealed) String() string { return "storage.Sealed{redacted}" }

// GoString keeps %#v redacted too.
func (s Sealed) GoString() string { return s.String() }

// LogValue redacts the value in log/slog.
func (Sealed) LogValue() slog.Value { return slog.StringValue("redacted") }

// seal encrypts v under the current seal key, binding it to aad.
func seal(keys Keys, aad []byte, v Sealed) (Envelope, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return Envelope{}, fmt.Errorf("seal: %w", err)
	}
	return sealBytes(keys, aad, plain)
}

// open decrypts an envelope with the key its kid names.
func open(keys Keys, aad []byte, env Envelope) (Sealed, error) {
	plain, err := openBytes(keys, aad, env)
	if err != nil {
		return Sealed{}, err
	}
	var s Sealed
	if err := json.Unmarshal(plain, &s); err != nil {
		return Sealed{}, fmt.Errorf("open envelope: decode: %w", ErrCorrupt)
	}
	return s, nil
}

// sealBytes encrypts plain under the current seal key, binding it to aad.
func sealBytes(keys Keys, aad, plain []byte) (Envelope, error) {
	aead, err := newGCM(keys.SealKeys[keys.SealKID])
	if err != nil {
		return Envelope{}, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Envelope{}, fmt.Errorf("seal: nonce: %w", err)
	}
	return Envelope{KID: keys.SealKID, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plain, aad)}, nil
}

// openBytes decrypts an envelope with the key its kid names.
func openBytes(keys Keys, aad []byte, env Envelope) ([]byte, error) {
	key, ok := keys.SealKeys[env.KID]
	if !ok {
		return nil, fmt.Errorf("open envelope: unknown seal kid %q: %w", env.KID, ErrInvalid)
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(env.Nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("open envelope: nonce length %d: %w", len(env.Nonce), ErrCorrupt)
	}
	plain, err := aead.Open(nil, env.Nonce, env.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("open envelope (kid %s): %w: %w", env.KID, ErrCorrupt, err)
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return aead, nil
}

// holderAAD binds an envelope to its result, so an envelope copied into
// another manifest does not open.
func holderAAD(id, resultCode, kid string) []byte {
	return []byte("sohoa/holder/v1\x00" + id + "\x00" + resultCode + "\x00" + kid)
}
