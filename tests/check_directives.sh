#!/usr/bin/env bash
# Every directive the built module registers is documented in docs/directives.md's reference (a
# "### Name" heading), and every documented directive exists.  The registered ones come from
# httpd itself: `apache2 -L` with the module loaded lists each directive of its command table,
# so a directive added to the table without documentation (or renamed) is caught, whatever the
# source says.  The module: $TB_MODULE, or the one `make -f Makefile.apxs` builds.
set -euo pipefail
cd "$(dirname "$0")/.."

module=${TB_MODULE:-$PWD/mod_taskboard/.libs/mod_taskboard.so}
[ -f "$module" ] || { echo "check_directives: $module is not built" >&2; exit 1; }
modules=/usr/lib/apache2/modules
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/logs"
cat >"$root/httpd.conf" <<EOF
ServerRoot "$root"
ServerName 127.0.0.1
ErrorLog "$root/logs/error_log"
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule dbd_module $modules/mod_dbd.so
LoadModule taskboard_module "$module"
EOF

# "TaskBoardJournal (mod_taskboard.c)", "<TaskBoardStore (mod_taskboard.c)"
listing=$(apache2 -L -d "$root" -f "$root/httpd.conf" 2>&1) || {
    echo "check_directives: apache2 -L failed:" >&2; echo "$listing" >&2; exit 1; }
registered=$(sed -nE 's/^<?([A-Za-z]+) \(mod_taskboard\.c\)$/\1/p' <<<"$listing" | sort -u)
[ -n "$registered" ] || { echo "check_directives: apache2 -L lists no directive of the module" >&2; exit 1; }
documented=$(sed -n '/^## Directive reference/,/^## /p' docs/directives.md \
             | grep -oE '^### (&lt;)?[A-Za-z]+' | sed -E 's/^### (&lt;)?//' | grep -v '^Handlers$' \
             | sort -u)
status=0
for d in $registered; do
    grep -qx "$d" <<<"$documented" || { echo "check_directives: $d is not in docs/directives.md" >&2; status=1; }
done
for d in $documented; do
    grep -qx "$d" <<<"$registered" || { echo "check_directives: docs/directives.md documents $d, which the module does not register" >&2; status=1; }
done
[ $status -eq 0 ] && echo "check_directives: $(wc -w <<<"$registered") directives registered, all documented"
exit $status
