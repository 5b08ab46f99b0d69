#!/usr/bin/env bash
# Checks docs/directives.md against the directives the built module registers, as httpd itself
# reports them, so that a directive added to the command table without documentation (or
# renamed, or given another context) is caught whatever the source says:
#
#   - `apache2 -L` with the module loaded lists each directive of its command table and where
#     httpd allows it ("Allowed in *.conf anywhere", "... only outside <Directory>, ...").  Every
#     registered directive must have one "### Name" section under "## Directive reference", and
#     every section there must name a registered directive.
#   - Each section opens with httpd's header rows: Description, Syntax (starting with the
#     directive), Default, Context, Module (mod_taskboard).
#   - The contexts of its Context row (server config, virtual host, directory, .htaccess) must be
#     among those the registration allows.
#   - Where the Default row is a complete directive line ("`TaskBoardParam data`"), `apache2 -t`
#     runs it in each context the registration allows (inside a <TaskBoardStore> when the Context
#     row says "inside <TaskBoardStore>", which must then also be refused outside one): httpd must
#     accept it exactly where the Context row says.  This catches what -L cannot show, such as a
#     directive that its handler keeps to the main server.
#
# The module: $TB_MODULE, or the one `make -f Makefile.apxs` builds.
set -euo pipefail
cd "$(dirname "$0")/.."

doc=docs/directives.md
module=${TB_MODULE:-$PWD/mod_taskboard/.libs/mod_taskboard.so}
[ -f "$module" ] || { echo "check_directives: $module is not built" >&2; exit 1; }
modules=/usr/lib/apache2/modules
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/logs"
cat >"$root/base.conf" <<EOF
ServerRoot "$root"
ServerName 127.0.0.1
ErrorLog "$root/logs/error_log"
DefaultRuntimeDir "$root/logs"
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule dbd_module $modules/mod_dbd.so
LoadModule taskboard_module "$module"
EOF

status=0
fail() {
    echo "check_directives: $*" >&2
    status=1
}

apache2 -L -d "$root" -f "$root/base.conf" >"$root/listing" 2>&1 || {
    echo "check_directives: apache2 -L failed:" >&2; cat "$root/listing" >&2; exit 1; }

# One record per directive, registered or documented, its fields separated by \x1f: name, the
# "Allowed in" text of its registration (empty: not registered), the number of its sections, and
# its Description, Syntax, Default, Context and Module rows.  One awk, as processes are slow to
# start on a loaded machine.
records=$(awk -v US=$'\x1f' '
    FNR == 1 { file++ }
    file == 1 && /^[^\t]/ {
        name = ""
        if ($0 ~ /^<?[A-Za-z]+ \(mod_taskboard\.c\)$/) {
            name = $1; sub(/^</, "", name); names[name] = 1; reg[name] = "" }
        next }
    file == 1 && name != "" && /^\tAllowed in/ { reg[name] = substr($0, 2); more = 1; next }
    file == 1 && name != "" && reg[name] != "" { line = $0; sub(/^\t/, " ", line); reg[name] = reg[name] line; next }
    file == 1 { next }
    /^## / { inref = ($0 ~ /^## Directive reference/); sec = ""; next }
    !inref { next }
    /^### / { sec = substr($0, 5); gsub(/&lt;|&gt;|[<> ]/, "", sec); names[sec] = 1; count[sec]++; next }
    sec != "" && /^\| *[A-Z][A-Za-z]* *\|/ {
        key = $0; sub(/^\| */, "", key); sub(/ *\|.*/, "", key)
        value = $0; sub(/^\| *[A-Za-z]+ *\| */, "", value); sub(/ *\| *$/, "", value)
        rows[sec, key] = value }
    END {
        for (n in names)
            print n US reg[n] US (count[n] + 0) US rows[n, "Description"] US rows[n, "Syntax"] \
                  US rows[n, "Default"] US rows[n, "Context"] US rows[n, "Module"] }
    ' "$root/listing" "$doc" | sort)
[[ $records == *"Allowed in"* ]] || { echo "check_directives: apache2 -L lists no directive of the module" >&2; exit 1; }

# 0 when `apache2 -t` accepts the configuration lines $2 in context $1 (server config, virtual
# host, directory) after the base configuration.  Builtins but for apache2 itself.
base=$(<"$root/base.conf")
config_accepts() {
    case $1 in
        "server config") printf '%s\n%s\n' "$base" "$2" ;;
        "virtual host") printf '%s\n<VirtualHost 127.0.0.1:80>\n%s\n</VirtualHost>\n' "$base" "$2" ;;
        directory) printf '%s\n<Location /check-directives>\n%s\n</Location>\n' "$base" "$2" ;;
    esac >"$root/test.conf"
    apache2 -t -d "$root" -f "$root/test.conf" >"$root/test.out" 2>&1
}

registered=0
tried=0
while IFS=$'\x1f' read -r d allowed sections description syntax default context module_row; do
    if [ -z "$allowed" ]; then
        fail "$doc has a section for $d, which the module does not register"
        continue
    fi
    registered=$((registered + 1))
    if [ "$sections" -eq 0 ]; then
        fail "$d is registered but has no section in $doc"
        continue
    fi
    [ "$sections" -eq 1 ] || fail "$doc has $sections sections for $d"
    [ -n "$description" ] || fail "$d: its section has no 'Description' row"
    [ -n "$default" ] || fail "$d: its section has no 'Default' row"
    [ "$module_row" = mod_taskboard ] || fail "$d: its Module row is '$module_row', not mod_taskboard"
    [[ $syntax == "\`$d"[\ \`]* || $syntax == "\`<$d"[\ \>]* ]] \
        || fail "$d: its Syntax row does not start with the directive: '$syntax'"
    if [ -z "$context" ]; then
        fail "$d: its section has no 'Context' row"
        continue
    fi

    # The contexts httpd allows, in the manual's words, from the "Allowed in" text.
    case $allowed in
        *"only outside"*) may="server config,virtual host" ;;
        *"only inside"*) may="directory" ;;
        *anywhere*) may="server config,virtual host,directory" ;;
        *) may="" ;;
    esac
    [[ $allowed != *.htaccess* ]] || may="$may,.htaccess"
    # "server config, virtual host, directory (inside `<TaskBoardStore>` only)": the list
    listed=${context%%(*}
    listed=${listed%%;*}
    IFS=, read -r -a contexts <<<"$listed"
    documented=","
    for c in "${contexts[@]}"; do
        c=${c#"${c%%[! ]*}"}
        c=${c%"${c##*[! ]}"}
        [ -n "$c" ] || continue
        documented="$documented$c,"
        case $c in
            "server config"|"virtual host"|directory|.htaccess) ;;
            *) fail "$d: '$c' in its Context row is not one of httpd's contexts"; continue ;;
        esac
        [[ ",$may," == *",$c,"* ]] \
            || fail "$d: its Context row says '$c', but httpd allows it only in: $may ($allowed)"
    done

    # The Default row as a directive line, tried with apache2 -t where httpd may allow it.
    [[ $default =~ ^\`($d( [^\`]*)?)\`$ ]] || continue
    line=${BASH_REMATCH[1]}
    if [[ $context == *TaskBoardStore* ]]; then
        ! config_accepts "server config" "$line" || fail "$d: its Context row says inside <TaskBoardStore> only," \
            "but apache2 -t accepts '$line' outside one"
        line=$'<TaskBoardStore check_directives>\n'"$line"$'\n</TaskBoardStore>'
    fi
    IFS=, read -r -a contexts <<<"$may"
    for c in "${contexts[@]}"; do
        [ "$c" != .htaccess ] || continue
        tried=$((tried + 1))
        if config_accepts "$c" "$line"; then
            [[ $documented == *",$c,"* ]] \
                || fail "$d: apache2 -t accepts '${line//$'\n'/ }' in $c, which its Context row leaves out"
        else
            [[ $documented != *",$c,"* ]] \
                || fail "$d: its Context row says $c, but apache2 -t refuses '${line//$'\n'/ }' there:" \
                        "$(tail -n 1 "$root/test.out")"
        fi
    done
done <<<"$records"

[ $status -eq 0 ] && echo "check_directives: $registered directives registered, each with its" \
    "section; header rows and contexts match httpd's ($tried contexts tried with apache2 -t)"
exit $status
