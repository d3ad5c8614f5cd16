package web

import (
	"regexp"
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	enc, err := hashPassword(cheapArgon2, "đúng mật khẩu 123")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(enc) {
		t.Errorf("hash %q is not a PHC argon2id string with its parameters", enc)
	}
	if strings.Contains(enc, "mật khẩu") {
		t.Error("hash shows the password")
	}
	other, _ := hashPassword(cheapArgon2, "đúng mật khẩu 123")
	if other == enc {
		t.Error("two hashes of one password are equal: no per-password salt")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"đúng mật khẩu 123", true}, {"đúng mật khẩu 124", false}, {"", false}, {"Đúng mật khẩu 123", false}} {
		ok, err := checkPassword(enc, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("checkPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	// The parameters come from the stored hash, not the current defaults.
	def, err := hashPassword(DefaultArgon2(), "mật khẩu mặc định")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(def, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("default hash %q: want m=65536,t=3,p=4", def)
	}
	if ok, err := checkPassword(def, "mật khẩu mặc định"); !ok || err != nil {
		t.Errorf("default-parameter hash does not verify: %v %v", ok, err)
	}
}

func TestCheckPasswordRefusesMalformedHashes(t *testing.T) {
	for _, enc := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",        // memory below 8 KiB a lane
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", // memory bomb
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",       // no pass
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",                 // short salt
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",                       // short tag
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA$extra", // extra part
		"$argon2id$v=19$m=64,t=1,p=1$not base64!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if ok, err := checkPassword(enc, "x"); ok || err == nil {
			t.Errorf("checkPassword(%q) = %v, %v; want a malformed-hash error", enc, ok, err)
		}
	}
}

func TestPasswordPolicyAndGenerator(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"ngắn", false},
		{"mười một kt", false}, // 11 characters (more bytes)
		{"mười hai ký!", true}, // 12 characters
		{"mật khẩu đủ dài", true},
		{" có dấu cách ", false},
		{strings.Repeat("a", MaxPasswordBytes), true},
		{strings.Repeat("a", MaxPasswordBytes+1), false},
	} {
		if got := CheckPasswordPolicy(tc.pw) == nil; got != tc.ok {
			t.Errorf("CheckPasswordPolicy(%q) ok = %v, want %v", tc.pw, got, tc.ok)
		}
	}
	seen := map[string]bool{}
	re := regexp.MustCompile(`^[a-hjkmnp-z2-9]{5}(-[a-hjkmnp-z2-9]{5}){3}$`)
	for range 200 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(pw) || CheckPasswordPolicy(pw) != nil || seen[pw] {
			t.Fatalf("generated password %q: bad form, refused by the policy, or repeated", pw)
		}
		seen[pw] = true
	}
}
