package signing

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"sohoa/signing/signingtest"
)

// helperEnv makes this test binary act as a verifier child (see
// TestHelperVerifyChild), in the given mode.
const helperEnv = "SOHOA_SIGNING_TEST_CHILD"

// TestHelperVerifyChild is not a test: it is the child process of the
// tests below, re-executing this test binary.
func TestHelperVerifyChild(t *testing.T) {
	mode := os.Getenv(helperEnv)
	switch mode {
	case "":
		t.Skip("the verifier child of TestChildVerifier")
	case "verify":
		if err := ServeVerifyChild(os.Stdin, os.Stdout); err != nil {
			os.Exit(3)
		}
	case "verify-then-allocate":
		// After ServeVerifyChild the address-space limit holds: 2 GiB more
		// cannot be mapped with 1 GiB allowed, the runtime dies.
		if err := ServeVerifyChild(os.Stdin, os.Stdout); err != nil {
			os.Exit(3)
		}
		b := make([]byte, 2<<30)
		b[len(b)-1] = 1
	case "pkcs7-unbounded":
		// What Verify did before ber.go: the nested blob straight into
		// pkcs7, which overflows the stack (a fatal error, not a panic).
		pkcs7.Parse(signingtest.NestedCMS(3_000_000))
	case "hang":
		time.Sleep(time.Hour)
	}
	os.Exit(0)
}

func helperVerifier(t *testing.T, mode string, roots ChildOptions) *ChildVerifier {
	t.Helper()
	roots.Command = []string{os.Args[0], "-test.run=^TestHelperVerifyChild$"}
	roots.Env = []string{helperEnv + "=" + mode}
	cv, err := NewChildVerifier(roots)
	if err != nil {
		t.Fatal(err)
	}
	return cv
}

// TestChildVerifier: a verdict crosses the process boundary with its
// sentinels, and a child that crashes, exceeds its memory limit or hangs
// costs that one verification, never the caller.
func TestChildVerifier(t *testing.T) {
	keys, err := EnsureDevKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	trust := ChildOptions{Roots: keys.Chain[len(keys.Chain)-1:]}
	signed := signedSeedWith(t, keys)
	ctx := t.Context()

	cv := helperVerifier(t, "verify", trust)
	v, err := cv.Verify(ctx, signed)
	if err != nil || !v.Valid || v.ResultCode != "000.00.31.H29-250718-0042-KQ1" || v.SignedSHA256 == "" || v.SignerCertSHA256 == "" {
		t.Fatalf("genuine file: got %+v, %v; want valid with its result code and digests", v, err)
	}
	hostile := signingtest.SignedShell(signingtest.NestedCMS(3_000_000))
	v, err = cv.Verify(ctx, hostile)
	if v.Valid || !errors.Is(err, ErrLimit) || !errors.Is(err, ErrInvalid) || !strings.Contains(strings.Join(v.Reasons, ";"), "too deeply nested") {
		t.Errorf("nested CMS: got %+v, %v; want ErrLimit, ErrInvalid, too deeply nested", v, err)
	}
	if _, err := cv.Verify(ctx, []byte("hello")); !errors.Is(err, ErrNotPDF) || errors.Is(err, ErrLimit) {
		t.Errorf("not a PDF: got %v, want ErrNotPDF only", err)
	}
	other, err := EnsureDevKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := helperVerifier(t, "verify", ChildOptions{Roots: other.Chain[1:]}).Verify(ctx, signed); !errors.Is(err, ErrInvalid) {
		t.Errorf("other roots: got %v, want ErrInvalid", err)
	}

	for _, tc := range []struct {
		mode string
		opts func(*ChildOptions)
		want error
	}{
		{"pkcs7-unbounded", nil, ErrChildCrashed},
		{"verify-then-allocate", nil, ErrChildCrashed},
		{"hang", func(o *ChildOptions) { o.Timeout = 300 * time.Millisecond }, ErrChildTimeout},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			o := trust
			if tc.opts != nil {
				tc.opts(&o)
			}
			start := time.Now()
			_, err := helperVerifier(t, tc.mode, o).Verify(ctx, signed)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// Control: without the memory limit the same child allocates and exits.
	o := trust
	o.MemoryLimit = 1 << 40
	if _, err := helperVerifier(t, "verify-then-allocate", o).Verify(ctx, signed); err != nil {
		t.Errorf("verify-then-allocate without a limit: got %v, want nil", err)
	}
}

// TestChildVerifierSlots: at most Children run at once; a caller waiting
// for a slot gives up with its context.
func TestChildVerifierSlots(t *testing.T) {
	keys, err := EnsureDevKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cv := helperVerifier(t, "hang", ChildOptions{Roots: keys.Chain, Children: 1, Timeout: 2 * time.Second})
	var wg sync.WaitGroup
	wg.Go(func() { cv.Verify(t.Context(), []byte("%PDF-")) })
	time.Sleep(200 * time.Millisecond) // let the first take the slot
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := cv.Verify(ctx, []byte("%PDF-")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second caller: got %v, want its deadline", err)
	}
	wg.Wait()
	if _, err := NewChildVerifier(ChildOptions{}); err == nil {
		t.Error("NewChildVerifier without roots: got nil error")
	}
}
