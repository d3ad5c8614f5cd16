#!/usr/bin/env bash
# curl examples for the sohoa reuse API. api/curl_test.go runs this script
# against a TLS test server; against the demo stack run, from the repo root:
#
#   SOHOA_API=https://127.0.0.1:8443 SOHOA_RESULT_CODE=<a result code> \
#   SOHOA_QR_TOKEN=<its QR token> api/testdata/curl_examples.sh
#
# Credentials default to the dev ones `make demo` creates under .local/keys
# (api.EnsureDevClients). SOHOA_TOKEN, when set, is a client-credentials JWT
# (EdDSA, signed with .local/keys/demo-agency-jwt.key, see api.SignJWT).
set -euo pipefail

: "${SOHOA_API:?set SOHOA_API, e.g. https://127.0.0.1:8443}"
: "${SOHOA_RESULT_CODE:?set SOHOA_RESULT_CODE to a result code}"
KEYS=${SOHOA_KEYS:-.local/keys}
CACERT=${SOHOA_CACERT:-$KEYS/server-ca.pem}
CERT=${SOHOA_CERT:-$KEYS/demo-agency.pem}
KEY=${SOHOA_KEY:-$KEYS/demo-agency.key}
CITIZEN_ID=${SOHOA_CITIZEN_ID:-001199012345}
CODE=$SOHOA_RESULT_CODE
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Every data request states its purpose: the procedure and the new dossier it serves.
PURPOSE=(-H "X-Purpose-Procedure: 1.001234.000.00.00.H29" -H "X-Purpose-Dossier: 000.00.31.H29-251122-0001")
MTLS=(--cacert "$CACERT" --cert "$CERT" --key "$KEY")

echo "## 1. Search a citizen's valid results (the ID goes in the body, never the URL)"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" -H 'Content-Type: application/json' \
  -d "{\"holder_id_type\":\"CCCD\",\"holder_id\":\"$CITIZEN_ID\",\"include_history\":true}" \
  "$SOHOA_API/v1/results:search" | tee "$OUT/search.json"; echo
# Each result comes with an access handle (15 minutes, this client, this
# citizen): reading a result by code needs it.
ACCESS=$(jq -r --arg c "$CODE" '.results[] | select(.result_code == $c) | .access' "$OUT/search.json")

echo "## 2. Metadata and validity of one result"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" "$SOHOA_API/v1/results/$CODE?access=$ACCESS"

echo "## 3. Status only (cacheable 5 minutes)"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" "$SOHOA_API/v1/results/$CODE/status?valid_at=2030-01-01T00:00:00%2B07:00"

echo "## 4. Download the signed PDF; its ETag is its sha256"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" -D "$OUT/headers" -o "$OUT/result.pdf" "$SOHOA_API/v1/results/$CODE/pdf?access=$ACCESS"
etag=$(tr -d '\r' <"$OUT/headers" | awk -F'"' 'tolower($1) ~ /^etag:/ {print $2}')
sum=$(sha256sum "$OUT/result.pdf" | cut -d' ' -f1)
[ "$etag" = "$sum" ] && echo "sha256 matches ETag: $sum"

echo "## 4b. Its fields as JSON (the PDF's signed attachment sohoa-data.json when embedded)"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" "$SOHOA_API/v1/results/$CODE/data?access=$ACCESS"; echo
# A receiver checks: pdfsig (valid, whole document signed), then
# pdfdetach -save 1 -o data.json result.pdf, whose sha256 is data_sha256.

echo "## 5. Verify a copy by upload (integrity, status, converting agency, issuing authority)"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" -H 'Content-Type: application/pdf' \
  --data-binary @"$OUT/result.pdf" "$SOHOA_API/v1/verify"

echo "## 6. Verify by hash only"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" -H 'Content-Type: application/json' \
  -d "{\"sha256\":\"$sum\"}" "$SOHOA_API/v1/verify"

if [ -n "${SOHOA_TOKEN:-}" ]; then
  echo "## 7. The same search with a bearer JWT instead of a client certificate"
  curl -fsS --cacert "$CACERT" -H "Authorization: Bearer $SOHOA_TOKEN" "${PURPOSE[@]}" \
    -H 'Content-Type: application/json' \
    -d "{\"holder_id_type\":\"CCCD\",\"holder_id\":\"$CITIZEN_ID\",\"include_history\":true}" \
    "$SOHOA_API/v1/results:search"
fi

echo "## 8. By code without an access handle: 403 (codes cannot be enumerated)"
curl -sS "${MTLS[@]}" "${PURPOSE[@]}" -w ' HTTP %{http_code}\n' "$SOHOA_API/v1/results/$CODE/pdf"

echo "## 8b. Without a credential: 401 with a JSON error"
curl -sS --cacert "$CACERT" "${PURPOSE[@]}" -w ' HTTP %{http_code}\n' "$SOHOA_API/v1/results/$CODE"

if [ -n "${SOHOA_QR_TOKEN:-}" ]; then
  echo "## 9. The public QR page (no credential; Vietnamese HTML)"
  curl -fsS --cacert "$CACERT" "$SOHOA_API/v/$CODE?k=$SOHOA_QR_TOKEN" | grep -o '<strong>[^<]*</strong>'
fi

if [ -n "${SOHOA_REVOKE_CODE:-}" ]; then
  echo "## 10. Revoke a result (scope revoke; the decision number is required)"
  curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" -H 'Content-Type: application/json' \
    -d '{"decision_ref":"123/QD-UBND","reason_code":"ISSUED_IN_ERROR"}' \
    "$SOHOA_API/v1/results/$SOHOA_REVOKE_CODE/revoke"
fi

echo "## 11. The OpenAPI document"
curl -fsS --cacert "$CACERT" -o "$OUT/openapi.json" "$SOHOA_API/v1/openapi.json"
head -c 80 "$OUT/openapi.json"; echo

echo "## 12. Pre-fill a form: the values the citizen's valid results hold, with provenance"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" -H 'Content-Type: application/json' \
  -d "{\"holder_id_type\":\"CCCD\",\"holder_id\":\"$CITIZEN_ID\",\"fields\":[\"full_name\",\"date_of_birth\",\"ethnicity\"]}" \
  "$SOHOA_API/v1/prefill"; echo

echo "## 13. Which papers a procedure's dossier requires are already on file"
curl -fsS "${MTLS[@]}" "${PURPOSE[@]}" -H 'Content-Type: application/json' \
  -d "{\"holder_id_type\":\"CCCD\",\"holder_id\":\"$CITIZEN_ID\",\"procedure\":\"${SOHOA_PROCEDURE:-1.001234}\"}" \
  "$SOHOA_API/v1/dossier-check"; echo
