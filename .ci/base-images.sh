#!/usr/bin/env bash
# Make the local base images that tests build on. Nothing can be pulled from an
# image registry on CI machines, so the images come from Debian's packages:
#   labkit/busybox:local          Debian's static busybox (for `docker run ... true`)
#   labkit/debian-python:bookworm a minimal Debian 12 with python3, pip and venv
# A learner or developer with internet access can use the public images instead
# (busybox:latest, python:3.12-slim). Needs a running Docker engine and root.
set -euo pipefail

busybox_image=${LABKIT_CONTAINER_IMAGE:-labkit/busybox:local}
python_image=${LABKIT_BASE_IMAGE:-labkit/debian-python:bookworm}

# mktemp -d makes a 0700 folder; tarred as it is, it becomes the image's `/`, and
# then no non-root USER can reach anything in the image. Every root is 0755.
new_rootfs() { local dir; dir=$(mktemp -d); chmod 0755 "$dir"; echo "$dir"; }

if ! docker image inspect "$busybox_image" >/dev/null 2>&1; then
  rootfs=$(new_rootfs)
  mkdir -p "$rootfs/bin"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in sh true echo sleep cat ls env; do ln -s busybox "$rootfs/bin/$applet"; done
  tar -C "$rootfs" -c . | docker import - "$busybox_image" >/dev/null
  rm -rf "$rootfs"
fi
echo "$busybox_image ready"

if ! docker image inspect "$python_image" >/dev/null 2>&1; then
  rootfs=$(new_rootfs)
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    bookworm "$rootfs" >/tmp/debootstrap.log 2>&1 || { tail -20 /tmp/debootstrap.log >&2; exit 1; }
  # pip inside the image reaches the package index over TLS with the host's CA bundle.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import -c 'CMD ["python3"]' - "$python_image" >/dev/null
  rm -rf "$rootfs"
fi
echo "$python_image ready"
