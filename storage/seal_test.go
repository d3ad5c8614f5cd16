package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func testKeys() Keys {
	k := func(c byte) []byte { return bytes.Repeat([]byte{c}, 32) }
	return Keys{
		IndexKeys: map[string][]byte{"k1": k('a'), "k0": k('b')}, IndexKID: "k1",
		SealKeys: map[string][]byte{"s1": k('c'), "s0": k('d')}, SealKID: "s1",
	}
}

func TestSealRoundTripAndRotation(t *testing.T) {
	keys := testKeys()
	secret := Sealed{IDType: IDTypeCCCD, ID: "001199012345", Name: "Nguyễn Thị Ánh Tuyết",
		Extracted: map[string]ExtractedField{"ho_ten": {Value: "Nguyễn Thị Ánh Tuyết", Confidence: 0.9}}}
	aad := holderAAD("id-1", "CODE-KQ1", keys.SealKID)
	env, err := seal(keys, aad, secret)
	if err != nil {
		t.Fatal(err)
	}
	if env.KID != "s1" || bytes.Contains(env.Ciphertext, []byte("001199012345")) {
		t.Fatalf("envelope kid %q, ciphertext holds the ID in clear: %v", env.KID, bytes.Contains(env.Ciphertext, []byte("001199012345")))
	}
	// Rotate: a new current kid, the old one kept for reading.
	rotated := keys
	rotated.SealKeys = map[string][]byte{"s2": bytes.Repeat([]byte{'e'}, 32), "s1": keys.SealKeys["s1"]}
	rotated.SealKID = "s2"
	got, err := open(rotated, aad, env)
	if err != nil {
		t.Fatalf("open after rotation: %v", err)
	}
	if got.ID != secret.ID || got.Name != secret.Name || got.Extracted["ho_ten"].Value != secret.Name {
		t.Errorf("open = %+v, want the sealed values back", got)
	}

	tests := []struct {
		name string
		keys Keys
		aad  []byte
		env  func(Envelope) Envelope
		want error
	}{
		{"other result's aad", keys, holderAAD("id-2", "CODE-KQ1", "s1"), func(e Envelope) Envelope { return e }, ErrCorrupt},
		{"flipped ciphertext", keys, aad, func(e Envelope) Envelope {
			e.Ciphertext = bytes.Clone(e.Ciphertext)
			e.Ciphertext[0] ^= 1
			return e
		}, ErrCorrupt},
		{"short nonce", keys, aad, func(e Envelope) Envelope { e.Nonce = e.Nonce[:4]; return e }, ErrCorrupt},
		{"unknown kid", keys, aad, func(e Envelope) Envelope { e.KID = "zz"; return e }, ErrInvalid},
	}
	for _, tc := range tests {
		_, err := open(tc.keys, tc.aad, tc.env(env))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: open error = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestSealedNeverPrints(t *testing.T) {
	s := Sealed{IDType: IDTypeCCCD, ID: "001199012345", Name: "Nguyễn Văn A"}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "sealed", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), logged.String()} {
		if strings.Contains(out, "001199012345") || strings.Contains(out, "Nguyễn") {
			t.Errorf("formatted Sealed leaks personal data: %q", out)
		}
	}
}

func TestNormalizeHolderID(t *testing.T) {
	tests := []struct {
		typ, id, wantType, wantID string
		ok                        bool
	}{
		{"cccd", " 0011 9901 2345 ", IDTypeCCCD, "001199012345", true},
		{"CCCD", "999999999999", IDTypeCCCD, "999999999999", true}, // province code never judged
		{"CCCD", "00119901234", "", "", false},
		{"CCCD", "00119901234x", "", "", false},
		{"passport", "c1234567", IDTypePassport, "C1234567", true},
		{"MST", "0101234567-001", IDTypeMST, "0101234567-001", true},
		{"CMND", "012345678", "", "", false},
	}
	for _, tc := range tests {
		gt, gi, err := NormalizeHolderID(tc.typ, tc.id)
		if (err == nil) != tc.ok || gt != tc.wantType || gi != tc.wantID {
			t.Errorf("NormalizeHolderID(%q, %q) = %q, %q, %v; want %q, %q, ok=%v", tc.typ, tc.id, gt, gi, err, tc.wantType, tc.wantID, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(tc.id)) {
			t.Errorf("NormalizeHolderID error %q echoes the ID", err)
		}
	}
}

func TestIndexHMACSeparatesTypes(t *testing.T) {
	k := testKeys().IndexKeys["k1"]
	a := indexHMAC(k, "CCCD", "001199012345")
	if b := indexHMAC(k, "PASSPORT", "001199012345"); a == b {
		t.Errorf("same HMAC for two ID types: %s", a)
	}
	if b := indexHMAC(testKeys().IndexKeys["k0"], "CCCD", "001199012345"); a == b {
		t.Errorf("same HMAC under two keys: %s", a)
	}
	if len(a) != 52 || strings.ContainsAny(a, "0189") {
		t.Errorf("HMAC = %q, want 52 characters of lowercase base32", a)
	}
}

func TestParseKeyRing(t *testing.T) {
	h := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		kids    []string
		current string
		ok      bool
	}{
		{h, []string{"k1"}, "k1", true},
		{"k2:" + h + ", k1:" + strings.Repeat("cd", 32), []string{"k1", "k2"}, "k2", true},
		{"k1:" + h + ",k1:" + h, nil, "", false},
		{"k1:abcd", nil, "", false},
		{"BAD KID:" + h, nil, "", false},
		{"", nil, "", false},
	}
	for _, tc := range tests {
		keys, cur, err := ParseKeyRing(tc.in)
		if (err == nil) != tc.ok || cur != tc.current || len(keys) != len(tc.kids) {
			t.Errorf("ParseKeyRing(%.20q…) = %d keys, current %q, %v; want %d, %q, ok=%v", tc.in, len(keys), cur, err, len(tc.kids), tc.current, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), h) {
			t.Errorf("ParseKeyRing error echoes the secret: %v", err)
		}
		if err == nil {
			back, cur2, err := ParseKeyRing(FormatKeyRing(keys, cur))
			if err != nil || cur2 != cur || len(back) != len(keys) {
				t.Errorf("FormatKeyRing does not round-trip: %v", err)
			}
		}
	}
}

func FuzzParseKeyRing(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add("k2:" + strings.Repeat("ab", 32) + ",k1:" + strings.Repeat("01", 32))
	f.Add("k1:zz")
	f.Fuzz(func(t *testing.T, s string) {
		keys, cur, err := ParseKeyRing(s)
		if err != nil {
			return
		}
		if _, ok := keys[cur]; !ok {
			t.Fatalf("current kid %q has no key", cur)
		}
		if err := (Keys{IndexKeys: keys, IndexKID: cur, SealKeys: keys, SealKID: cur}).validate(); err != nil {
			t.Fatalf("parsed ring does not validate: %v", err)
		}
	})
}

func TestMaskID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"001099872198", "********2198"},
		{"0790729532776", "*********2776"},
		{" 092086611398\n", "********1398"},
		{"Nguyễn", "**uyễn"},
		{"123", "***"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskID(tt.in); got != tt.want {
			t.Errorf("MaskID(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
