#!/usr/bin/env bash
# Fetches the pinned usrsctp release into vendor/usrsctp, where usrsctp-sys's build script
# looks for it. Idempotent: an existing checkout at the right tag is left alone.
set -euo pipefail

TAG="0.9.5.0"
REPO="https://github.com/sctplab/usrsctp"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/usrsctp"

tag_commit() {
    git -C "$dest" rev-parse -q --verify "refs/tags/$TAG^{commit}" 2>/dev/null || true
}

if [ -d "$dest" ]; then
    if [ ! -d "$dest/.git" ]; then
        echo "vendor/usrsctp exists but is not a git checkout; remove it and re-run." >&2
        exit 1
    fi
    head="$(git -C "$dest" rev-parse HEAD)"
    want="$(tag_commit)"
    if [ -n "$want" ] && [ "$head" = "$want" ]; then
        echo "vendor/usrsctp is already at tag $TAG ($head)."
        exit 0
    fi
    echo "vendor/usrsctp is at $head, not at tag $TAG; remove it and re-run." >&2
    exit 1
fi

if ! command -v git >/dev/null 2>&1; then
    echo "git is required to fetch usrsctp." >&2
    exit 1
fi

echo "Cloning $REPO at tag $TAG into vendor/usrsctp ..."
if ! git -c advice.detachedHead=false clone --quiet --depth 1 --branch "$TAG" "$REPO" "$dest"; then
    rm -rf "$dest"
    cat >&2 <<MSG
Could not clone $REPO (tag $TAG). If this machine has no access to GitHub, either:
  * copy a usrsctp $TAG source tree here as vendor/usrsctp, or point USRSCTP_SOURCE_DIR at one
    (Debian: enable deb-src and run 'apt-get source libusrsctp'; its orig tarball is the
    upstream release), or
  * install the system library: apt-get install -y libusrsctp-dev pkg-config
MSG
    exit 1
fi

if [ -z "$(tag_commit)" ] || [ ! -f "$dest/usrsctplib/usrsctp.h" ]; then
    echo "The clone does not contain tag $TAG with usrsctplib/usrsctp.h; removing it." >&2
    rm -rf "$dest"
    exit 1
fi
echo "vendor/usrsctp is at tag $TAG ($(git -C "$dest" rev-parse HEAD))."
