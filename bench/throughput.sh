#!/usr/bin/env bash
# Throughput and peak memory of `leakguard scan dir` against `gitleaks dir`
# on the same tree, in one run: medians of RUNS runs each, interleaved so
# that machine noise hits both alike, and the ratio.
#
#   bench/throughput.sh [TREE] [RUNS]
#
# TREE defaults to the Go distribution's own source, $(go env GOROOT)/src.
# gitleaks v8.30.1 is looked for on PATH or in $(go env GOPATH)/bin; build
# it as its releases are built:
#   go install -tags gore2regex github.com/zricethezav/gitleaks/v8@v8.30.1
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${1:-$(go env GOROOT)/src}
runs=${2:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

go build -o "$out/leakguard" ./cmd/leakguard
gitleaks=$(command -v gitleaks || echo "$(go env GOPATH)/bin/gitleaks")
[ -x "$gitleaks" ] || { echo "gitleaks not found: see the header of $0" >&2; exit 2; }

size=$(du -sb "$tree" | cut -f1)
files=$(find "$tree" -type f | wc -l)
echo "tree: $tree ($files files, $((size / 1048576)) MiB), $runs runs each, $(nproc) cores"

# measure NAME CMD...: appends "seconds maxrss_kb" to $out/NAME.times
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/time" "$@" >/dev/null 2>"$out/$name.stderr" || true
  tail -n 1 "$out/time" >>"$out/$name.times"
}

for ((i = 0; i < runs; i++)); do
  measure leakguard "$out/leakguard" scan dir --no-progress --format json --output "$out/lg.json" "$tree"
  measure gitleaks "$gitleaks" dir --no-banner --exit-code 0 --report-format json --report-path "$out/gl.json" "$tree"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
lg_s=$(cut -d' ' -f1 "$out/leakguard.times" | median); gl_s=$(cut -d' ' -f1 "$out/gitleaks.times" | median)
lg_m=$(cut -d' ' -f2 "$out/leakguard.times" | median); gl_m=$(cut -d' ' -f2 "$out/gitleaks.times" | median)
lg_n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$out/lg.json")
gl_n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$out/gl.json")

printf '%-10s %10s %12s %10s %s\n' tool "median s" "MiB/s" "peak MiB" "findings"
awk -v s="$lg_s" -v m="$lg_m" -v b="$size" -v n="$lg_n" 'BEGIN{printf "%-10s %10.2f %12.1f %10.1f %s distinct secrets\n","leakguard",s,b/1048576/s,m/1024,n}'
awk -v s="$gl_s" -v m="$gl_m" -v b="$size" -v n="$gl_n" 'BEGIN{printf "%-10s %10.2f %12.1f %10.1f %s findings\n","gitleaks",s,b/1048576/s,m/1024,n}'
awk -v a="$lg_s" -v b="$gl_s" 'BEGIN{printf "speed-up: leakguard is %.2fx faster than gitleaks (wall time ratio gitleaks/leakguard)\n", b/a}'
