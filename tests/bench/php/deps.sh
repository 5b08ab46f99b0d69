#!/usr/bin/env bash
# tests/bench/php/deps.sh: installs what the PHP baseline of tests/bench/edits.py needs
# (Debian's libapache2-mod-php and php-mysql) when it is missing, and leaves /etc/apache2 as it
# was.
#
# Installing libapache2-mod-php switches Debian's own /etc/apache2 to mpm_prefork and enables
# php8.2 there (its postinst runs a2dismod mpm_event, a2enmod mpm_prefork php8.2).  The bench
# never uses /etc/apache2 (it runs PHP from a private, self-contained httpd configuration), but
# anything else on the machine that does (the installed-package tests, Debian's apache2) would
# then run under prefork with PHP.  So the links in mods-enabled and conf-enabled are recorded
# before the install and put back exactly as they were after it, and the script fails if they
# still differ.
set -euo pipefail

PACKAGES=(libapache2-mod-php php-mysql)
ENABLED_DIRS=(/etc/apache2/mods-enabled /etc/apache2/conf-enabled)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" != installed ]; then
        missing+=("$pkg")
    fi
done
[ "${#missing[@]}" -gt 0 ] || exit 0
[ "$(id -u)" -eq 0 ] || { echo "php/deps.sh: missing packages (install them as root): ${missing[*]}" >&2; exit 1; }

# "name -> target" of every entry, one a line
snapshot() {
    local d
    for d in "${ENABLED_DIRS[@]}"; do
        [ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 -printf '%p -> %l\n'
    done | sort
}

restore() {
    local before=$1 line path target
    # entries the install added or changed go
    snapshot | while IFS= read -r line; do
        grep -qxF -- "$line" "$before" || rm -f -- "${line%% -> *}"
    done
    # entries it removed or changed come back
    while IFS= read -r line; do
        path=${line%% -> *}
        target=${line#* -> }
        [ -e "$path" ] || [ -L "$path" ] || ln -s -- "$target" "$path"
    done < "$before"
}

before=$(mktemp)
trap 'rm -f "$before"' EXIT
snapshot > "$before"

echo "php/deps.sh: installing ${missing[*]} (then restoring /etc/apache2/mods-enabled and conf-enabled)"
rc=0
{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}"; } || rc=$?
# restored whether the install worked or not: a half-done install may have switched the MPM
restore "$before"
if ! diff -u "$before" <(snapshot); then
    echo "php/deps.sh: /etc/apache2 differs from before the install (above)" >&2
    exit 1
fi
echo "php/deps.sh: /etc/apache2/mods-enabled and conf-enabled are as before the install"
exit "$rc"
