#!/usr/bin/env bash
# tests/fuzz/fuzz.sh: libFuzzer target over mod_taskboard's decoding and validation core.
#
#   tests/fuzz/fuzz.sh build              compile state/fuzz/fuzz_core (clang, ASan + UBSan + libFuzzer)
#   tests/fuzz/fuzz.sh run SECONDS [ARGS] fuzz for SECONDS on a copy of the corpus; extra ARGS go to
#                                         libFuzzer.  Exits non-zero on any crash, leak, UB, timeout,
#                                         OOM or violated invariant (reproducer in state/fuzz/artifacts)
#   tests/fuzz/fuzz.sh repro [FILE...]    run the target once on each FILE (default: every file of
#                                         crashers/ and corpus/); a seed that valid.txt lists must
#                                         also be accepted as the request it names
#   tests/fuzz/fuzz.sh minimize           merge committed + work corpus into state/fuzz/corpus-min
#   tests/fuzz/fuzz.sh coverage           line/branch coverage of the core by the committed + work
#                                         corpus (llvm-cov; report in state/fuzz/coverage.txt)
#
# Environment: FUZZ_CC (clang), FUZZ_JOBS (1: one process; N > 1: libFuzzer -fork=N),
# TB_STATE_DIR (./state), TB_FUZZ_VERBOSE=1 (print each parse result), TB_FUZZ_POOL_MALLOC=0
# (see fuzz_core.c).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE_ROOT=${TB_STATE_DIR:-$ROOT/state}
case $STATE_ROOT in /*) ;; *) STATE_ROOT=$ROOT/$STATE_ROOT ;; esac
STATE=$STATE_ROOT/fuzz
BIN=$STATE/fuzz_core
CORPUS=$HERE/corpus
VALID=$HERE/valid.txt
WORK=$STATE/corpus-work
ARTIFACTS=$STATE/artifacts
LOGS=$STATE/logs
CC=${FUZZ_CC:-clang}
JOBS=${FUZZ_JOBS:-1}
PKGS=(apr-1 apr-util-1 jansson)
SRC=$ROOT/mod_taskboard
# The core without httpd.  tb_answer.c writes the answers; tb_sync_parse.c's tb_sync_t is
# applied by tb_sync_apply.c, which needs tb_db.c (apr_dbd, apr-util) and the journal
# (tb_journal.c, which reads the revision with tb_load.c).
CORE="tb_model.c tb_sql.c tb_json.c tb_convert.c tb_request.c tb_sync_parse.c tb_sync_apply.c tb_db.c
      tb_journal.c tb_load.c tb_tree.c tb_headers.c tb_answer.c tb_nested.c"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

die() { echo "fuzz.sh: $*" >&2; exit 2; }

build() {
    local srcs=() f
    command -v "$CC" >/dev/null || die "$CC not found (apt-get install clang libclang-rt-14-dev)"
    for f in $CORE; do srcs+=("$SRC/$f"); done
    mkdir -p "$STATE"
    # shellcheck disable=SC2046
    "$CC" -g -O1 -fno-omit-frame-pointer -Wall -Wextra \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I "$SRC" $(pkg-config --cflags "${PKGS[@]}") \
        "$HERE/fuzz_core.c" "${srcs[@]}" \
        $(pkg-config --libs "${PKGS[@]}") -o "$BIN.tmp"
    mv "$BIN.tmp" "$BIN"
    echo "fuzz.sh: built $BIN"
}

build_if_needed() {
    if [[ ! -x $BIN ]] || [[ -n $(find "$HERE/fuzz_core.c" "$SRC" -maxdepth 1 \
                                      \( -name 'fuzz_core.c' -o -name 'tb_*.[ch]' \) \
                                      -newer "$BIN" -print -quit) ]]; then
        build
    fi
}

# New files in the artifacts directory since the marker.
new_artifacts() {
    find "$ARTIFACTS" -maxdepth 1 -type f -newer "$1" ! -name '.*' -print | sort
}

run() {
    local seconds=${1:-}
    [[ $seconds =~ ^[0-9]+$ ]] || die "usage: fuzz.sh run SECONDS [libFuzzer args]"
    shift
    build_if_needed
    mkdir -p "$WORK" "$ARTIFACTS" "$LOGS"
    # Work on a copy: libFuzzer adds to its first corpus directory.
    cp -n "$CORPUS"/* "$WORK"/
    local marker=$STATE/.run-start log rc stamp par=()
    stamp=$(date +%Y%m%d-%H%M%S)
    log=$LOGS/run-$stamp.log
    touch "$marker"
    if (( JOBS > 1 )); then
        par=(-fork="$JOBS")
    fi
    echo "fuzz.sh: ${seconds}s, corpus $(find "$WORK" -type f | wc -l) files, jobs $JOBS, log $log"
    set +e
    "$BIN" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -detect_leaks=1 -artifact_prefix="$ARTIFACTS/" \
        "${par[@]}" "$@" "$WORK" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    summary "$log" "$seconds"
    local found f
    found=$(new_artifacts "$marker")
    if [[ -n $found ]]; then
        echo "fuzz.sh: FAILED: new artifacts (reproduce with: tests/fuzz/fuzz.sh repro FILE):"
        while read -r f; do echo "  $f"; done <<<"$found"
        return 1
    fi
    if (( rc != 0 )); then
        echo "fuzz.sh: FAILED: libFuzzer exited with $rc (see $log)"
        return "$rc"
    fi
    echo "fuzz.sh: OK: no crash, leak, UB, timeout or violated invariant"
}

# "N executions in S seconds" and coverage, from a libFuzzer log.  One process ends with
# -print_final_stats's stat:: lines and "Done N runs in S second(s)"; fork mode (FUZZ_JOBS > 1)
# prints neither, only status lines "#N: cov: C ft: F corp: U exec/s R ... time: Ss job: J"
# whose N is the total over its jobs.  Every grep may find nothing: under pipefail that must not
# end the script before the summary (it did: fork mode exited 1 after 4.97 M executions).
summary() {
    local log=$1 seconds=$2 execs rate done_line cov ft corp last
    execs=$( (grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true) \
             | awk '{s += $2} END {print s + 0}')
    rate=$( (grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" || true) \
            | awk '{s += $2} END {print s + 0}')
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
    if [[ -n $done_line ]]; then
        seconds=$(awk '{print $5}' <<<"$done_line")
        [[ $execs != 0 ]] || execs=$(awk '{print $2}' <<<"$done_line")
    fi
    if [[ $execs == 0 ]]; then
        # fork mode: the last status line carries the total and the time
        last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -1 || true)
        if [[ -n $last ]]; then
            execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
            if [[ $last =~ time:\ ([0-9]+)s ]]; then
                seconds=${BASH_REMATCH[1]}
            fi
        else
            execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
            execs=${execs:-0}
        fi
    fi
    if [[ $rate == 0 && $seconds -gt 0 ]]; then
        rate=$(( execs / seconds ))
    fi
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
    corp=$(grep -oE 'corp: [0-9]+(/[0-9]+[a-zA-Z]*)?' "$log" | tail -1 | awk '{print $2}' || true)
    echo "fuzz.sh: $execs executions in $seconds seconds ($rate exec/s), cov: ${cov:-?} ft: ${ft:-?}, corpus ${corp:-?} units/bytes"
}

# The kinds a seed must be accepted as (valid.txt), or nothing.
expected_kinds() {
    awk -v f="$(basename "$1")" '$1 == f && !/^#/ {print $2; exit}' "$VALID"
}

# Runs the target once on each of the files "$@" with TB_FUZZ_EXPECT=$1 (shifted off), in one
# process; when that fails, file by file, to tell which.  Prints one line per file.
repro_group() {
    local kinds=$1 f rc=0
    shift
    if TB_FUZZ_EXPECT=$kinds "$BIN" -timeout=10 -rss_limit_mb=2048 "$@" >"$STATE/repro.log" 2>&1
    then
        for f in "$@"; do
            echo "fuzz.sh: ok      $f${kinds:+ (accepted as $kinds)}"
        done
        return 0
    fi
    (( $# > 1 )) || {
        echo "fuzz.sh: FAILED  $1"
        grep -E -A1 'invariant|not valid JSON|valid request refused|ERROR:|runtime error' \
            "$STATE/repro.log" \
            | grep -v -E '^--$|deadly signal|__sanitizer_print_stack_trace' | head -6 | sed 's/^/    /'
        grep -E '^    #[0-9]+ .* in (tb_|fuzz_|check_|url_|parse_|read_|order_|LLVMFuzzerTestOneInput)' \
            "$STATE/repro.log" | head -12 | sed 's/^/    /'
        return 1
    }
    for f in "$@"; do
        repro_group "$kinds" "$f" || rc=1
    done
    return $rc
}

repro() {
    if (( $# == 0 )); then
        # the test command's set: every reproducer and every seed
        set -- "$HERE"/crashers/* "$CORPUS"/*
    fi
    build_if_needed
    local f rc=0 kinds name
    local -A groups=()
    # every file valid.txt names exists, so a renamed seed is not silently unchecked
    while read -r name _; do
        [[ -z $name || $name == \#* || -f $CORPUS/$name ]] && continue
        echo "fuzz.sh: FAILED  valid.txt names $name, which is not in $CORPUS"
        rc=1
    done <"$VALID"
    # one process per set of expectations (a process per file takes a second each)
    for f in "$@"; do
        [[ $f != *.md ]] || continue
        kinds=""
        if [[ $(cd "$(dirname "$f")" && pwd) == "$CORPUS" ]]; then
            kinds=$(expected_kinds "$f")
        fi
        groups[x$kinds]+="$f"$'\n'
    done
    for kinds in "${!groups[@]}"; do
        mapfile -t files < <(printf '%s' "${groups[$kinds]}")
        repro_group "${kinds#x}" "${files[@]}" || rc=1
    done
    return $rc
}

minimize() {
    build_if_needed
    mkdir -p "$WORK"
    rm -rf "$STATE/corpus-min"
    mkdir -p "$STATE/corpus-min"
    "$BIN" -merge=1 -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        "$STATE/corpus-min" "$CORPUS" "$WORK"
    echo "fuzz.sh: $(find "$STATE/corpus-min" -type f | wc -l) units in $STATE/corpus-min" \
         "(committed corpus: $(find "$CORPUS" -type f | wc -l), work: $(find "$WORK" -type f | wc -l));" \
         "the committed corpus is unchanged"
}

coverage() {
    local srcs=() f cov_bin=$STATE/fuzz_core_cov profdir=$STATE/profraw
    local profdata=${FUZZ_PROFDATA:-llvm-profdata} llvmcov=${FUZZ_LLVM_COV:-llvm-cov}
    command -v "$profdata" >/dev/null || die "$profdata not found"
    for f in $CORE; do srcs+=("$SRC/$f"); done
    mkdir -p "$STATE" "$WORK"
    # shellcheck disable=SC2046
    "$CC" -g -O1 -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer \
        -I "$SRC" $(pkg-config --cflags "${PKGS[@]}") "$HERE/fuzz_core.c" "${srcs[@]}" \
        $(pkg-config --libs "${PKGS[@]}") -o "$cov_bin"
    rm -rf "$profdir"
    mkdir -p "$profdir"
    LLVM_PROFILE_FILE="$profdir/%p.profraw" "$cov_bin" -runs=0 -max_len=4096 \
        "$CORPUS" "$WORK" >"$STATE/coverage-run.log" 2>&1
    "$profdata" merge -sparse "$profdir"/*.profraw -o "$STATE/coverage.profdata"
    "$llvmcov" report "$cov_bin" -instr-profile="$STATE/coverage.profdata" \
        "${srcs[@]}" | tee "$STATE/coverage.txt"
    echo "fuzz.sh: per-line view: $llvmcov show $cov_bin -instr-profile=$STATE/coverage.profdata" \
         "$SRC/tb_sync_parse.c"
}

cmd=${1:-}
[[ -n $cmd ]] || die "usage: fuzz.sh build | run SECONDS [ARGS] | repro FILE... | minimize | coverage"
shift
case $cmd in
    build) build ;;
    run) run "$@" ;;
    repro) repro "$@" ;;
    minimize) minimize ;;
    coverage) coverage ;;
    *) die "unknown command '$cmd' (build | run SECONDS | repro FILE... | minimize | coverage)" ;;
esac
