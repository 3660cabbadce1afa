#!/usr/bin/env bash
# Fetches the pinned usrsctp release into vendor/usrsctp, where usrsctp-sys's build script
# looks for it, then applies our own patches from vendor/patches/ (see vendor/README.md).
# Idempotent: an existing checkout at the right tag is kept, and a patch already applied is
# skipped; a patch that applies neither way is an error.
#
#   vendor/fetch.sh                 git clone of sctplab/usrsctp at the tag
#   vendor/fetch.sh --from-debian   the same release from Debian's source package
set -euo pipefail

TAG="0.9.5.0"
REPO="https://github.com/sctplab/usrsctp"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/usrsctp"

# Runs `patch -p1` (or, without it, `git apply`) in $dest with the patch on stdin.
# GIT_CEILING_DIRECTORIES keeps git from taking this repository for the tree to patch.
run_patch() {
    if command -v patch >/dev/null 2>&1; then
        patch -p1 -d "$dest" --batch --silent --fuzz=0 "$@"
    else
        local args=()
        for a in "$@"; do
            case "$a" in
                --dry-run) args+=(--check) ;;
                -R) args+=(-R) ;;
                *) ;;
            esac
        done
        (cd "$dest" && GIT_CEILING_DIRECTORIES="$here" git apply -p1 "${args[@]}")
    fi
}

# Applies vendor/patches/*.patch (in name order) to the tree in $dest.
apply_patches() {
    if ! command -v patch >/dev/null 2>&1 && ! command -v git >/dev/null 2>&1; then
        echo "Applying vendor/patches needs 'patch' or 'git' (Debian: apt-get install -y patch)." >&2
        exit 1
    fi
    local p name
    for p in "$here"/patches/*.patch; do
        [ -f "$p" ] || continue
        name="$(basename "$p")"
        # -f: never take a reversed patch for a forward one (--batch alone would).
        if run_patch -f -R --dry-run <"$p" >/dev/null 2>&1; then
            echo "vendor/patches/$name is already applied."
        elif run_patch -N --dry-run <"$p" >/dev/null 2>&1; then
            run_patch -N <"$p" >/dev/null
            echo "Applied vendor/patches/$name."
        else
            echo "vendor/patches/$name does not apply to vendor/usrsctp (not usrsctp $TAG, or" \
                "changed by hand). Remove vendor/usrsctp and re-run." >&2
            exit 1
        fi
    done
}

# --from-debian: take the same upstream release from Debian's source package instead of GitHub
# (its orig tarball is the upstream 0.9.5.0 release; apt verifies it against the signed archive).
# For machines that reach Debian's archive but not GitHub. Needs root and apt.
from_debian() {
    if [ -f "$dest/usrsctplib/usrsctp.h" ]; then
        echo "vendor/usrsctp already holds a usrsctp source tree; remove it to fetch again."
        apply_patches
        exit 0
    fi
    if ! apt-cache showsrc libusrsctp 2>/dev/null | grep -q '^Version:'; then
        # Enable source entries next to the machine's own binary entries (same archive).
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            case "$(basename "$f")" in usrsctp-rs-src-*) continue ;; esac
            sed 's/^Types:.*/Types: deb-src/' "$f" >"/etc/apt/sources.list.d/usrsctp-rs-src-$(basename "$f")"
        done
        if [ -f /etc/apt/sources.list ]; then
            sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/usrsctp-rs-src.list
        fi
        apt-get update -qq
    fi
    version="$(apt-cache showsrc libusrsctp | awk '/^Version:/ {print $2; exit}')"
    case "$version" in
        "$TAG"-*) ;;
        *) echo "Debian's libusrsctp source is version '${version:-none}', not $TAG." >&2; exit 1 ;;
    esac
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get source --download-only -qq "libusrsctp=$version" >/dev/null 2>&1)
    orig="$tmp/libusrsctp_$TAG.orig.tar.gz"
    if [ ! -f "$orig" ]; then
        echo "apt-get source did not produce $(basename "$orig")." >&2
        exit 1
    fi
    mkdir -p "$dest"
    tar -xzf "$orig" -C "$dest" --strip-components=1
    if [ ! -f "$dest/usrsctplib/usrsctp.h" ]; then
        echo "The Debian source has no usrsctplib/usrsctp.h; removing vendor/usrsctp." >&2
        rm -rf "$dest"
        exit 1
    fi
    echo "vendor/usrsctp holds usrsctp $TAG from Debian's source package $version."
    apply_patches
    exit 0
}

if [ "${1:-}" = "--from-debian" ]; then
    from_debian
fi

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
        apply_patches
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
apply_patches
