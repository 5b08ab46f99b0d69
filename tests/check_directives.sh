#!/usr/bin/env bash
# Every directive the module registers is documented in README.md's directive reference (a
# "### Name" heading), and every documented directive exists.
set -euo pipefail
cd "$(dirname "$0")/.."

registered=$(grep -oE '#define TB_CMD_[A-Z_]+ "<?[A-Za-z]+"' mod_taskboard/mod_taskboard_private.h \
             | grep -v '_NAME ' | sed -E 's/.*"<?([A-Za-z]+)"/\1/' | sort -u)
documented=$(sed -n '/^## Directive reference/,/^## /p' README.md \
             | grep -oE '^### (&lt;)?[A-Za-z]+' | sed -E 's/^### (&lt;)?//' | grep -v '^Handlers$' \
             | sort -u)
status=0
for d in $registered; do
    grep -qx "$d" <<<"$documented" || { echo "check_directives: $d is not in README.md" >&2; status=1; }
done
for d in $documented; do
    grep -qx "$d" <<<"$registered" || { echo "check_directives: README.md documents $d, which does not exist" >&2; status=1; }
done
[ $status -eq 0 ] && echo "check_directives: $(wc -w <<<"$registered") directives, all documented"
exit $status
