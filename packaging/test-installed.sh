#!/usr/bin/env bash
# test-installed.sh: proves the Debian package on this machine, as CI does on a fresh Debian 12.
#
# Usage (as root): packaging/test-installed.sh DEB
#   1. dpkg -i DEB: the module lands in /usr/lib/apache2/modules, taskboard.load and .conf in
#      /etc/apache2/mods-available; nothing is enabled by the installation;
#   2. a2enmod -q taskboard enables it and, through "# Depends: dbd", mod_dbd; Debian's own
#      apache2ctl -t passes and apache2ctl -M lists the module; the sample board configuration
#      from /usr/share/mod-taskboard, enabled with a2enconf, passes apache2ctl -t as well;
#   3. all of that is disabled again, and the enable/disable markers under /var/lib/apache2 are
#      put back as they were;
#   4. integration tests run against /usr/lib/apache2/modules/mod_taskboard.so, once it is
#      checked to be the module this checkout built: a cross-section of the suite, or the files
#      TB_INSTALLED_TESTS names ("all": the whole suite) (TB_MODULE; TB_TEST_STATE_DIR, PYTHON
#      and PYTEST_ARGS from the environment);
#   5. dpkg --purge, unless the package was installed before this run.
# The system's apache2 is never started or restarted: the maintainer scripts only act on an
# enabled module, and the module is disabled before the package is removed.  Runs that overlap
# (another checkout's test command) wait for each other on a lock, since each installs and
# removes the same package.
set -euo pipefail
umask 022

die() { echo "test-installed: $*" >&2; exit 1; }
say() { echo "test-installed: $*"; }

[ $# -eq 1 ] || die "usage: $0 DEB"
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -f "$deb" ] || die "$deb not found: make -f Makefile.apxs package"
[ "$(id -u)" = 0 ] || die "must run as root (dpkg -i, a2enmod)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
TB_TEST_STATE_DIR=${TB_TEST_STATE_DIR:-$repo/state/installed/pytest}
export TB_TEST_STATE_DIR
pkg=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)
module=/usr/lib/apache2/modules/mod_taskboard.so
apache=/etc/apache2
markers=/var/lib/apache2
start=$(date +%s)

exec 9>/run/lock/mod-taskboard-test-installed.lock
if ! flock -n 9; then
    say "another run holds /run/lock/mod-taskboard-test-installed.lock, waiting (at most 30 min)"
    flock -w 1800 9 || die "lock not released in 30 minutes"
fi

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)" = "ii " ]
}
enabled() { a2query -q -m "$1"; }

# -- the state this run must leave as it found it
pkg_was_installed=0
pkg_installed && pkg_was_installed=1
enabled taskboard && die "the taskboard module is enabled in $apache already; this test would disable it"
[ -e $apache/conf-available/taskboard.conf ] && die "$apache/conf-available/taskboard.conf exists already"
dbd_was_enabled=0
enabled dbd && dbd_was_enabled=1
saved_markers=$(find $markers -type f \( -name taskboard -o -name dbd \) | sort)
apache2ctl -t 2>/dev/null || die "apache2ctl -t fails before the package is installed: fix that first"

touched_apache=0
restore_apache() {
    [ $touched_apache = 1 ] || return 0
    touched_apache=0
    a2disconf -q -p taskboard >/dev/null 2>&1 || true
    rm -f $apache/conf-available/taskboard.conf
    a2dismod -q taskboard >/dev/null 2>&1 || true
    [ $dbd_was_enabled = 1 ] || a2dismod -q dbd >/dev/null 2>&1 || true
    find $markers -type f \( -name taskboard -o -name dbd \) -delete
    local m
    for m in $saved_markers; do
        mkdir -p "$(dirname "$m")" && touch "$m"
    done
}
cleanup() {
    local rc=$?
    restore_apache
    if [ $pkg_was_installed = 0 ] && pkg_installed; then
        dpkg --purge "$pkg" >/dev/null || { echo "test-installed: dpkg --purge $pkg failed" >&2; rc=1; }
    fi
    if [ $rc = 0 ]; then
        say "passed in $(($(date +%s) - start)) s"
    else
        echo "test-installed: FAILED (exit $rc) after $(($(date +%s) - start)) s" >&2
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- 1. install
say "dpkg -i $(basename "$deb")"
DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i "$deb"
pkg_installed || die "$pkg is not installed after dpkg -i"
[ "$(dpkg-query -W -f='${Version}' "$pkg")" = "$version" ] || die "$pkg is not at version $version"
for f in $module $apache/mods-available/taskboard.load $apache/mods-available/taskboard.conf \
         /usr/share/mod-taskboard/taskboard.conf /usr/share/mod-taskboard/schema.sql \
         /usr/share/mod-taskboard/taskboard-boards.conf /usr/share/mod-taskboard/boards.sql; do
    [ -f "$f" ] || die "$f is missing after dpkg -i"
    dpkg -S "$f" 2>/dev/null | grep -q "^$pkg: " || die "$f does not belong to $pkg"
done
if ldd $module | grep -q 'not found'; then
    ldd $module >&2
    die "$module links a library that is not installed"
fi
enabled taskboard && die "installing the package enabled the module (it must not)"
dpkg -s "$pkg" | grep -E '^(Version|Depends|Recommends):'

# -- 2. enable, and Debian's configuration test
touched_apache=1
a2enmod -q taskboard
enabled taskboard || die "a2enmod taskboard did not enable the module"
enabled dbd || die "a2enmod taskboard did not enable mod_dbd (# Depends: dbd)"
[ -L $apache/mods-enabled/taskboard.conf ] || die "a2enmod did not link mods-enabled/taskboard.conf"
apache2ctl -t || die "apache2ctl -t fails with the module enabled"
apache2ctl -M 2>/dev/null | grep -q '^ taskboard_module (shared)$' \
    || die "apache2ctl -M does not list taskboard_module"
say "a2enmod taskboard: enabled with mod_dbd, apache2ctl -t: Syntax OK, apache2ctl -M: taskboard_module"
cp /usr/share/mod-taskboard/taskboard.conf $apache/conf-available/taskboard.conf
a2enconf -q taskboard
apache2ctl -t || die "apache2ctl -t fails with the sample board enabled (a2enconf taskboard)"
say "a2enconf taskboard (the sample board): apache2ctl -t: Syntax OK"

# -- 3. back to the system's configuration
restore_apache
enabled taskboard && die "a2dismod taskboard left the module enabled"
[ "$(find $markers -type f \( -name taskboard -o -name dbd \) | sort)" = "$saved_markers" ] \
    || die "the a2enmod markers under $markers were not restored"
apache2ctl -t 2>/dev/null || die "apache2ctl -t fails after a2dismod"
say "a2dismod taskboard: $apache as before"

# -- 4. integration tests against the installed module
# The package installs the module the build made, stripped as build-deb.sh strips it and
# otherwise byte for byte (checked here), and the test command runs the whole suite on that
# build already: what is left to prove is that the installed copy loads and serves from its
# Debian path.  So a cross-section runs by default (configuration, loads, syncs, retries,
# events, authorization: a fraction of the whole suite's eight minutes); TB_INSTALLED_TESTS=all
# runs everything.
built=$(mktemp)
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
    -o "$built" "$repo/mod_taskboard/.libs/mod_taskboard.so"
same=0
cmp -s "$module" "$built" && same=1
rm -f "$built"
[ $same = 1 ] \
    || die "$module is not the module this checkout built (make -f Makefile.apxs package first)"
if [ "${TB_INSTALLED_TESTS:-}" = all ]; then
    tests=(tests/integration)
else
    # shellcheck disable=SC2206  # a list of test files
    tests=(${TB_INSTALLED_TESTS:-tests/integration/test_100_config.py
           tests/integration/test_200_load.py tests/integration/test_600_sync.py
           tests/integration/test_650_retries.py tests/integration/test_670_events.py
           tests/integration/test_720_authz.py})
fi
say "integration tests against $module (state: $TB_TEST_STATE_DIR): ${tests[*]}"
cd "$repo"
# The servers the tests start must not inherit the lock (fd 9): a leftover one would hold it.
# shellcheck disable=SC2086  # PYTEST_ARGS is a list of arguments
TB_MODULE=$module "$PYTHON" -m pytest -q "${tests[@]}" ${PYTEST_ARGS:-} 9>&-
