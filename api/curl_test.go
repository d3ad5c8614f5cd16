package api

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sohoa/internal/testenv"
	"sohoa/signing"
)

// TestCurlExamples runs testdata/curl_examples.sh, the README's examples,
// against a TLS test server with the dev credentials.
func TestCurlExamples(t *testing.T) {
	testenv.MustHaveExecPath(t, "curl")
	testenv.MustHaveExecPath(t, "jq")
	bash := testenv.MustHaveExecPath(t, "bash")
	f := newFixture(t, fixtureOpts{})
	token, err := DevToken(f.dev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	code := f.gks[0]
	cmd := exec.CommandContext(t.Context(), bash, "testdata/curl_examples.sh")
	cmd.Env = append(os.Environ(),
		"SOHOA_API="+f.srv.URL,
		"SOHOA_KEYS="+f.dev.Dir,
		"SOHOA_RESULT_CODE="+code,
		"SOHOA_QR_TOKEN="+signing.VerifyToken(f.qrKey, code),
		"SOHOA_REVOKE_CODE="+f.gplx[0],
		"SOHOA_CITIZEN_ID="+holders[0].id,
		"SOHOA_TOKEN="+token,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl_examples.sh: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		`"result_code":"` + code + `"`,        // search and metadata
		`"status":"active"`,                   // status
		"sha256 matches ETag: " + f.sha[code], // pdf
		`"pdf_sha256":"` + f.sha[code] + `"`,  // data
		`"matched":true`,                      // verify
		`"code":"unauthenticated"`,            // no credential
		"HTTP 401",
		`"code":"citizen_context_required"`, "HTTP 403", // by code without a handle
		"<strong>Còn hiệu lực</strong>", // QR page
		`"reason":"REVOKED"`,            // revoke
		`"openapi": "3.1.0"`,
		"## 7.",                                                // the JWT example ran
		`"vocabulary_version":"1"`, `"withheld":["ethnicity"]`, // prefill
		`"on_file":[{"doc_type":"GKS"`, // dossier check
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
