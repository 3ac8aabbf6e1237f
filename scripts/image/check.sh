#!/usr/bin/env bash
# Proves the real Dockerfile builds and its image runs, on a machine with no
# Docker daemon and no image registry: buildah (chroot isolation, vfs storage)
# builds it on a stand-in for the Node base image, assembled locally from the
# Node binary the project provisions; then the image's own entrypoint runs
# against the local AWS simulator and must drain with the right exit codes.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=$PWD/node_modules/.bin:$PATH  # the Node 24 that npm ci provisioned

work=$PWD/.image
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
base=$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)
tag=nlb-sidecar-for-ecs:ci
export BUILDAH_ISOLATION=chroot
took=()
phase() { # prints and records how long the previous phase took
  [ -n "${current:-}" ] && took+=("$(printf '%4ss  %s' $((SECONDS - started)) "$current")")
  current=$1 started=$SECONDS; printf '\n== %s\n' "$1"
}
fail() { echo "image check FAILED: $*" >&2; exit 1; }

phase "install buildah"
if ! command -v buildah >/dev/null || [ ! -x /bin/busybox ]; then
  # chroot isolation and vfs storage need no OCI runtime, fuse or network plugins.
  timeout 300 apt-get update -qq || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends buildah busybox-static >/dev/null \
    || fail "apt-get install buildah busybox-static"
fi
buildah --version
rm -rf "$work"; mkdir -p "$work"
cleanup() { [ -n "${pid1:-}" ] && kill -KILL "$pid1" 2>/dev/null || true; buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true; rm -rf "$work"; [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null || true; }
trap cleanup EXIT

phase "assemble the stand-in for $base"
# Only what the Dockerfile's stages use: node, npm, a shell with coreutils
# (busybox), the C/C++ runtime node links against, CA certificates, users.
root=$work/rootfs
node_bin=$(readlink -f node_modules/.bin/node)
mkdir -p "$root"/{bin,etc/ssl/certs,tmp,usr/local/bin,usr/local/lib,usr/local/etc,root,home/node}
chmod 1777 "$root/tmp"
cp "$node_bin" "$root/usr/local/bin/node"
for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
mkdir -p "$root/usr/local/lib/node_modules"
cp -r "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"; done
mkdir -p "$root/usr/bin"; ln -s ../../bin/env "$root/usr/bin/env"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' > "$root/etc/group"
chown 1000:1000 "$root/home/node"
ctr=$(buildah "${storage[@]}" from scratch)
buildah "${storage[@]}" copy "$ctr" "$root" / >/dev/null
# This machine reaches the npm registry through its own CA bundle: the stand-in
# trusts it the way the host's npm does (the real base image needs nothing).
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' > "$root/usr/local/etc/npmrc"
buildah "${storage[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$("$node_bin" --version)" \
  --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd node "$ctr"
buildah "${storage[@]}" commit --quiet "$ctr" "docker.io/library/$base" >/dev/null
buildah "${storage[@]}" rm "$ctr" >/dev/null

phase "build the Dockerfile"
timeout 1200 buildah "${storage[@]}" bud --pull=never --isolation chroot --layers=false --build-arg VERSION="$(node -p 'require("./package.json").version')" -t "$tag" -f Dockerfile . >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; fail "buildah bud"; }
tail -3 "$work/build.log"

phase "inspect the image"
config=$(buildah "${storage[@]}" inspect --type image "$tag" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(JSON.parse(s).OCIv1.config)))')
echo "$config"
entrypoint=$(node -e 'const c=JSON.parse(process.argv[1]); console.log(JSON.stringify([...(c.Entrypoint??[]), ...(c.Cmd??[])]))' "$config")
user=$(node -p 'JSON.parse(process.argv[1]).User ?? ""' "$config")
[ "$user" = node ] || fail "the image must run as the node user, not ${user:-root}"
grep -q '"org.opencontainers.image.source"' <<<"$config" || fail "OCI labels missing"
ctr=$(buildah "${storage[@]}" from "$tag")
mnt=$(buildah "${storage[@]}" mount "$ctr")
for tool in usr/local/bin/npm usr/local/bin/npx usr/local/bin/corepack usr/local/lib/node_modules; do
  [ ! -e "$mnt/$tool" ] || fail "/$tool is in the runtime image"
done
[ -f "$mnt/app/dist/main.js" ] || fail "/app/dist/main.js is missing"
buildah "${storage[@]}" umount "$ctr" >/dev/null
buildah "${storage[@]}" images

phase "run the image's entrypoint against the simulator"
mapfile -t cmd < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$entrypoint")
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
  grep -q '"error":"Drained"' "$work/run.log" || fail "no drain line in the log"
  echo "exit code $code as expected"
}
run_image 0
run_image 3 DRAIN_EXIT_CODE=3

phase "SIGTERM to the entrypoint as PID 1"
# ECS stops a container with SIGTERM to its PID 1, and the kernel drops signals
# that PID 1 of a namespace has no handler for: a process that does not handle
# SIGTERM itself would sit there until ECS's SIGKILL. buildah's chroot isolation
# has no PID namespace, so the image's rootfs runs here under unshare + chroot,
# with the image's own Entrypoint, Cmd, User, WorkingDir and Env.
mnt=$(buildah "${storage[@]}" mount "$ctr")
ids=$(awk -F: -v u="$user" '$1 == u { print $3 ":" $4 }' "$mnt/etc/passwd")
workdir=$(node -p 'JSON.parse(process.argv[1]).WorkingDir || "/"' "$config")
mapfile -t image_env < <(node -e 'for (const e of JSON.parse(process.argv[1]).Env ?? []) console.log(e)' "$config")
start_sim 600000
# unshare blocks signals while it waits: -k kills it, and --kill-child its child.
timeout -k 1 60 unshare --pid --fork --kill-child chroot --userspec="$ids" "$mnt" \
  /usr/bin/env -i "${image_env[@]}" "${sim_env[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "${cmd[@]}" >"$work/pid1.log" 2>&1 &
pid1_job=$!
# Signal once it is watching: the state every long-running task is stopped in.
for _ in $(seq 200); do grep -q '"target state changed"' "$work/pid1.log" && break; sleep 0.1; done
# timeout -> unshare -> the entrypoint (chroot, env and sh exec into it).
pid1=$(pgrep -P "$(pgrep -P "$pid1_job")") || fail "the entrypoint is not running: $(cat "$work/pid1.log")"
grep -Eq '^NSpid:.*[[:space:]]1$' "/proc/$pid1/status" || fail "the entrypoint is not PID 1 of its namespace"
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
echo "image check passed"
