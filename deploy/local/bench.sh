#!/usr/bin/env bash
# make bench: the whole pipeline side by side with raw Tesseract (with and
# without --psm 1, 2 at a time), `sohoa extract` and OCRmyPDF on the same
# pages, in paired rounds (medians), with CPU time, peak memory, the
# worker's own stage timings, 1 vs 2 workers, a generated 200-page dossier
# (bitonal and colour) and 20 concurrent 60 MB uploads; then the signing
# throughput and the repository and reuse-API latencies.
# Needs the local stack environment (make bench sets it).
# Results: docs/bench/ (results.md, results.json, scaling.png, stages.png);
# raw output and logs: .local/bench/.
#   BENCH_CORPUS=DIR[,DIR]  more folders measured with ../shared/corpus/dev
#   BENCH_ROUNDS=5  BENCH_OCRMYPDF_ROUNDS=3  BENCH_DOSSIER_PAGES=200
#   BENCH_UPLOADS=20  BENCH_UPLOAD_MB=60  BENCH_WORKERS=1,2
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.local/bench
mkdir -p "$out"
export OMP_THREAD_LIMIT=1

if ! command -v ocrmypdf >/dev/null; then
  echo "bench: installing ocrmypdf (Debian package) for the comparison"
  SUDO=""; if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends ocrmypdf >/dev/null \
    || echo "bench: ocrmypdf not installed; the comparison is left out"
fi

go build -o bin/sohoa ./cmd/sohoa
corpus=../shared/corpus/dev${BENCH_CORPUS:+,$BENCH_CORPUS}
echo "== 1/3 pipeline vs tesseract, sohoa extract, OCRmyPDF on $corpus"
bin/sohoa bench --corpus "$corpus" --out docs/bench --work "$out" \
  --rounds "${BENCH_ROUNDS:-5}" --ocrmypdf-rounds "${BENCH_OCRMYPDF_ROUNDS:-3}" --workers "${BENCH_WORKERS:-1,2}" \
  --stack-pidfiles "$SOHOA_LOCAL_DIR/s3/versitygw.pid,$SOHOA_LOCAL_DIR/redis/redis.pid" \
  --dossier-pages "${BENCH_DOSSIER_PAGES:-200}" --uploads "${BENCH_UPLOADS:-20}" --upload-mb "${BENCH_UPLOAD_MB:-60}" \
  2> "$out/bench.log" | tee "$out/results.md"

echo "== 2/3 signing: one-page e-results (render, sign, verify) with a file key, one core"
go test -run '^$' -bench 'BenchmarkIssueOnePage' -benchtime 2s -cpu 1 -count 1 ./signing/ | tee "$out/signing.txt"

echo "== 3/3 repository search (mem, S3) and reuse API under 50 concurrent clients"
go test -run '^$' -bench 'BenchmarkSearch$' -benchtime 2000x -count 1 ./storage/ | tee "$out/search.txt"
go test -run '^$' -bench 'BenchmarkSearchS3' -benchtime 200x -count 1 ./storage/s3/ | tee "$out/search-s3.txt"
go test -run '^$' -bench 'BenchmarkSearchUnderLoad' -benchtime 4000x -count 1 ./api/ | tee "$out/api.txt"

echo "bench: results in docs/bench/results.md; raw output and logs in $out/"
