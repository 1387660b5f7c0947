#!/usr/bin/env bash
# Git history scanning, in one run: `git log -p -U0 --all` alone (the cost
# floor of a diff-based scan), `leakguard scan git` and `gitleaks git` on a
# 10,000-commit history built from the Go distribution's own source
# ($(go env GOROOT)/src, see bench/gitrepo), medians of RUNS interleaved
# runs, wall time ratios, peak memory, and how many of the planted secrets
# each tool finds. Then a pre-receive push of 1,000 commits against its
# 10 s budget.
#
#   bench/git.sh [RUNS] [COMMITS]
#
# gitleaks v8.30.1 is looked for on PATH or in $(go env GOPATH)/bin; build
# it as its releases are built:
#   go install -tags gore2regex github.com/zricethezav/gitleaks/v8@v8.30.1
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
commits=${2:-10000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

go build -o "$out/bin/leakguard" ./cmd/leakguard
gitleaks=$(command -v gitleaks || echo "$(go env GOPATH)/bin/gitleaks")
[ -x "$gitleaks" ] || { echo "gitleaks not found: see the header of $0" >&2; exit 2; }

repo=$out/repo
git init -q -b main "$repo"
go run ./bench/gitrepo -commits "$commits" -labels "$out/planted.txt" | git -C "$repo" fast-import --quiet
git -C "$repo" repack -adq
echo "history: $(git -C "$repo" rev-list --all --count) commits, $(du -sh "$repo/.git" | cut -f1) packed, $(wc -l <"$out/planted.txt") planted secrets, $(nproc) cores, $runs runs"

# measure NAME CMD...: appends "seconds maxrss_kb" (largest process of
# the tree: GNU time's view) to $out/NAME.times
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/time" "$@" >/dev/null 2>"$out/$name.stderr" || true
  tail -n 1 "$out/time" >>"$out/$name.times"
}
# own_rss CMD...: peak resident memory of CMD's own process in KB (VmHWM,
# sampled until it exits), not counting the git processes it runs.
own_rss() {
  "$@" >/dev/null 2>&1 &
  local pid=$! peak=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/VmHWM/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.02
  done
  wait "$pid" || true
  echo "$peak"
}

for ((i = 0; i < runs; i++)); do
  measure gitlog sh -c "git -C '$repo' log -p -U0 --all >/dev/null"
  measure leakguard "$out/bin/leakguard" scan git --no-progress --no-redact --format json --output "$out/lg.json" "$repo"
  measure gitleaks "$gitleaks" git --no-banner --exit-code 0 --redact=0 --report-format json --report-path "$out/gl.json" "$repo"
done
lg_own=$(own_rss "$out/bin/leakguard" scan git --no-progress --format json --output "$out/lg-own.json" "$repo")
gl_own=$(own_rss "$gitleaks" git --no-banner --exit-code 0 --report-format json --report-path "$out/gl-own.json" "$repo")

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { cut -d' ' -f"$2" "$out/$1.times" | median; }
found=$(python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
planted = [l.strip() for l in open(d + "/planted.txt") if l.strip()]
lg = {f["secret"] for f in json.load(open(d + "/lg.json"))["findings"]}
gl = {f["Secret"] for f in json.load(open(d + "/gl.json"))}
print(sum(p in lg for p in planted), len(lg), sum(p in gl for p in planted), len(gl))
PY
)
read -r lg_found lg_n gl_found gl_n <<<"$found"
gitlog_s=$(col gitlog 1); lg_s=$(col leakguard 1); gl_s=$(col gitleaks 1)
printf '%-22s %9s %16s %14s %s\n' "" "median s" "peak MiB (tree)" "own MiB" "planted found / distinct secrets"
awk -v s="$gitlog_s" -v m="$(col gitlog 2)" 'BEGIN{printf "%-22s %9.2f %16.1f %14s\n","git log -p -U0 --all",s,m/1024,"-"}'
awk -v s="$lg_s" -v m="$(col leakguard 2)" -v o="$lg_own" -v f="$lg_found" -v n="$lg_n" 'BEGIN{printf "%-22s %9.2f %16.1f %14.1f %s / %s\n","leakguard scan git",s,m/1024,o/1024,f,n}'
awk -v s="$gl_s" -v m="$(col gitleaks 2)" -v o="$gl_own" -v f="$gl_found" -v n="$gl_n" 'BEGIN{printf "%-22s %9.2f %16.1f %14.1f %s / %s\n","gitleaks git",s,m/1024,o/1024,f,n}'
awk -v a="$lg_s" -v g="$gitlog_s" -v b="$gl_s" 'BEGIN{printf "ratios: leakguard / git log -p = %.2f (target <= 1.0); leakguard / gitleaks = %.2f (target <= 0.5)\n", a/g, a/b}'

# Push protection: 1,000 new commits through a real pre-receive hook.
bare=$out/origin.git
git init -q --bare -b main "$bare"
git -C "$repo" push -q "$bare" "main~1000:refs/heads/main"
"$out/bin/leakguard" hook install --pre-receive "$bare" >/dev/null
start=$(date +%s.%N)
if git -C "$repo" push -q "$bare" main:refs/heads/main 2>"$out/push.err"; then verdict=accepted; else verdict=rejected; fi
end=$(date +%s.%N)
new=$(git -C "$repo" rev-list --count main~1000..main)
awk -v s="$start" -v e="$end" -v n="$new" -v v="$verdict" 'BEGIN{printf "pre-receive: push of %d new commits %s in %.2f s (budget 10 s; the history plants secrets, so rejection is right)\n", n, v, e-s}'
grep -c -- "- commit " "$out/push.err" | awk '{print "pre-receive: " $1 " locations named in the rejection"}'
