package storagetest

import (
	"regexp"
	"strings"
	"testing"

	"sohoa/storage"
)

// idToken is a 12-digit run standing as its own token: the shape of a
// citizen ID.
var idToken = regexp.MustCompile(`(^|[^0-9A-Za-z])[0-9]{12}([^0-9A-Za-z]|$)`)

// CheckKeysPrivate lists every key in b and fails the test if one contains a
// 12-digit token, the ID of fixture holders 0..holders-1, or any part of
// their names. It returns the number of keys checked.
func CheckKeysPrivate(t *testing.T, b storage.Bucket, holders int) int {
	t.Helper()
	var banned []string
	for h := range holders {
		banned = append(banned, HolderID(h))
		for _, part := range strings.Fields(HolderName(h)) {
			if len([]rune(part)) > 2 {
				banned = append(banned, strings.ToLower(part))
			}
		}
	}
	n := 0
	if err := b.List(t.Context(), "", func(o storage.ObjectInfo) error {
		n++
		if idToken.MatchString(o.Key) {
			t.Errorf("key %q holds a 12-digit token", o.Key)
		}
		lower := strings.ToLower(o.Key)
		for _, s := range banned {
			if strings.Contains(lower, s) {
				t.Errorf("key %q contains personal data", o.Key)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("list all keys: %v", err)
	}
	if n == 0 {
		t.Fatal("bucket is empty: nothing was checked")
	}
	return n
}
