#!/usr/bin/env bash
# build-deb.sh: turns the tree that `make -f Makefile.apxs install DESTDIR=ROOT` staged into the
# Debian package DEB, with dpkg-deb (no debian/ directory and no debhelper run needed).
#
# Usage: packaging/build-deb.sh ROOT DEB
#   ROOT  the staged tree; it must be .../debian/PACKAGE so that dpkg-shlibdeps finds its way
#   DEB   the package to write, PACKAGE_VERSION_ARCH.deb (the version from packaging/VERSION)
#
# The package follows Debian's rules for module packages (/usr/share/doc/apache2/PACKAGING):
# depends on the module ABI (apache2-api-MMN) rather than on apache2, ships taskboard.load (with
# "# Depends: dbd") and taskboard.conf as conffiles in mods-available, and its maintainer
# scripts are those of dh_apache2 --noenable: no postinst, so installing never enables the
# module (that is the administrator's `a2enmod taskboard`); prerm disables it on removal and
# postrm forgets its state on purge.
set -euo pipefail
umask 022

die() { echo "build-deb: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 ROOT DEB"
root=$1
deb=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pkg=$(basename "$root")
work=$(cd "$root/../.." && pwd)
[ "$(basename "$(dirname "$root")")" = debian ] || die "ROOT must be .../debian/PACKAGE: $root"
module=$root/usr/lib/apache2/modules/mod_taskboard.so
[ -f "$module" ] || die "$module is missing: stage it with make -f Makefile.apxs install DESTDIR=..."

version=$(tr -d ' \n' <"$here/VERSION")
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "packaging/VERSION is not a Debian version: '$version'"
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "${pkg}_${version}_${arch}.deb" ] || die "$deb is not named ${pkg}_${version}_${arch}.deb"

# What dh_strip does for a shared object; the module stays debuggable from the build tree.
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$module"

doc=$root/usr/share/doc/$pkg
install -d "$doc"
install -m 644 "$here/copyright" "$doc/copyright"
gzip -9n <"$here/../README.md" >"$doc/README.md.gz"
install -d "$doc/docs"
for f in "$here"/../docs/*.md; do
    gzip -9n <"$f" >"$doc/docs/$(basename "$f").gz"
done

# Dependencies: the module ABI the way dh_apache2 states it, the MySQL driver of apr-util that
# DBDriver mysql loads, and the shared libraries the .so links (dpkg-shlibdeps reads
# debian/control in the directory above the staged tree, and wants DEBIAN/ in it).
mmn=$(apxs -q HTTPD_MMN)
[ -n "$mmn" ] || die "apxs -q HTTPD_MMN gave nothing"
install -d -m 755 "$root/DEBIAN"
printf 'Source: mod-taskboard\n\nPackage: %s\nArchitecture: any\n' "$pkg" >"$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps --warnings=0 -O "debian/$pkg/usr/lib/apache2/modules/mod_taskboard.so")
shlibs=${shlibs#shlibs:Depends=}
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"

# Everything under /etc is a conffile: dpkg keeps the administrator's changes on upgrades.
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
install -m 755 "$here/prerm" "$here/postrm" "$root/DEBIAN/"
find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 755 {} +
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@PACKAGE@|$pkg|" -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" \
    -e "s|@INSTALLED_SIZE@|$size|" -e "s|@APACHE_DEPENDS@|apache2-api-$mmn, apache2-bin (>= 2.4.16)|" \
    -e "s|@SHLIBS_DEPENDS@|$shlibs|" "$here/control.in" >"$root/DEBIAN/control"
if grep -q '@[A-Z_]*@' "$root/DEBIAN/control"; then die "unreplaced placeholder in DEBIAN/control"; fi
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' \
    | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$(dirname "$deb")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb"
