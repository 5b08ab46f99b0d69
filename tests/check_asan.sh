#!/usr/bin/env bash
# check_asan.sh DIR: fails when AddressSanitizer, LeakSanitizer or UBSan wrote any report into DIR
# during the sanitizer run, and prints them.
set -euo pipefail
dir=${1:?usage: check_asan.sh REPORT_DIR}
shopt -s nullglob
reports=("$dir"/*)
if [ ${#reports[@]} -eq 0 ]; then
    echo "check_asan: no sanitizer reports"
    exit 0
fi
for f in "${reports[@]}"; do
    echo "==== $f"
    cat "$f"
done
echo "check_asan: ${#reports[@]} sanitizer report(s) above" >&2
exit 1
