#!/usr/bin/env bash
# Pins every base image of the Dockerfile to the digest its tag names now (the
# multi-platform index), where the registry is reachable:
#   bash scripts/image/pin-bases.sh    # then review and commit the Dockerfile
# A new Node release: change the tag in both FROM lines (and node-linux-* in
# package.json), then run this. Dependabot keeps tags and digests current after that.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v docker >/dev/null || { echo "pin-bases: needs docker (buildx)" >&2; exit 1; }
mapfile -t refs < <(sed -nE 's/^FROM (--platform=\S+ )?(\S+).*/\2/p' Dockerfile | grep -v '^scratch$' | sed 's/@sha256:.*//' | sort -u)
for ref in "${refs[@]}"; do
  digest=sha256:$(docker buildx imagetools inspect --raw "$ref" | sha256sum | cut -d' ' -f1)
  sed -i -E "s#^(FROM (--platform=\S+ )?)$(sed 's/[.[\*^$/]/\\&/g' <<<"$ref")(@sha256:[0-9a-f]+)?( |$)#\1$ref@$digest\4#" Dockerfile
  echo "$ref@$digest"
done
