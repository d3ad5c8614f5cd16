#!/usr/bin/env bash
# make bench: every figure is a ratio measured side by side in one run.
# Needs the local stack environment (make bench sets it). Output: .local/bench/.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.local/bench
mkdir -p "$out"
export OMP_THREAD_LIMIT=1
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)

echo "== 1/4 OCR: sohoa engine (OSD + deskew + recognition) vs raw tesseract CLI, same pages"
go test -run '^$' -bench 'BenchmarkOCRPage|BenchmarkTesseractCLI' -benchtime 3x -count 1 ./ocr/tesseract/ | tee "$out/ocr.txt"
awk '/^BenchmarkOCRPage\// {split($1,a,"/"); sub(/-[0-9]+$/,"",a[2]); eng[a[2]]=$3}
     /^BenchmarkTesseractCLI\// {split($1,a,"/"); sub(/-[0-9]+$/,"",a[2]); cli[a[2]]=$3}
     END {for (f in eng) if (f in cli) {printf "  %-16s engine %.2fs  cli %.2fs  ratio %.2f\n", f, eng[f]/1e9, cli[f]/1e9, eng[f]/cli[f]; se+=eng[f]; sc+=cli[f]}
          if (sc>0) printf "  all pages        engine/cli = %.2f\n", se/sc}' "$out/ocr.txt" | tee "$out/ocr-summary.txt"

echo "== 2/4 Repository: search latency with 1,000 vs 100,000 results (mem) and 1,000 vs 5,000 (S3)"
go test -run '^$' -bench 'BenchmarkSearch$' -benchtime 2000x -count 1 ./storage/ | tee "$out/search.txt"
go test -run '^$' -bench 'BenchmarkSearchS3' -benchtime 200x -count 1 ./storage/s3/ | tee "$out/search-s3.txt"
awk '/^BenchmarkSearch(S3)?\// {split($1,a,"/"); sub(/-[0-9]+$/,"",a[2]); v[FILENAME":"a[2]]=$3; names[FILENAME]=names[FILENAME]" "a[2]}
     END {for (k in v) printf "  %-40s %8.0f ns/op\n", k, v[k]}' "$out/search.txt" "$out/search-s3.txt" | sort | tee "$out/search-summary.txt"

echo "== 3/4 Reuse API: search + metadata under 50 concurrent TLS clients"
go test -run '^$' -bench 'BenchmarkSearchUnderLoad' -benchtime 4000x -count 1 ./api/ | tee "$out/api.txt"

echo "== 4/4 Whole pipeline on the dev corpus (sohoa eval: open + OCR + extraction per page)"
go build -o bin/sohoa ./cmd/sohoa
bin/sohoa eval --corpus ../shared/corpus/dev | tee "$out/eval.txt"

echo "bench run $stamp; raw output in $out/"
