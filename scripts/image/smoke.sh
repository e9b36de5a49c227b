#!/usr/bin/env bash
# Runs the built image the way a cluster runs it, with buildah (no daemon):
#   1. its configured user is 10001:10001 and `cli --help` works as that user on Node 24;
#   2. `worker` starts against a real redis-server (started here with the test platform's flags, on a
#      free loopback port; the image shares the host network) and answers /healthz and /readyz;
#   3. prints the image's size.
# Exits non-zero on any failure, with the worker's log. Run scripts/image/build.sh first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=common.sh
source scripts/image/common.sh
image_script_setup "$@"
say() { echo "image/smoke: $*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}

work=$(mktemp -d)
ctr=""
redis_pid=""
worker_pid=""
# The worker runs under buildah-chroot-exec and tini, which put it in a process group of its own: it is
# found by a marker in its environment (this run's only) and stopped by its process id.
marker="EKS_ACCESS_SMOKE=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
marked_pids() {
  local environ
  for environ in /proc/[0-9]*/environ; do
    if { tr '\0' '\n' <"$environ"; } 2>/dev/null | grep -qx "$marker"; then
      environ=${environ#/proc/}
      echo "${environ%/environ}"
    fi
  done
}
cleanup() {
  # Only what this script started, by its id: the worker (and tini), buildah run, the redis-server, the container.
  # Whatever is already gone is fine: no errexit here, the script's own status stands.
  set +e
  local pids
  pids=$(marked_pids)
  [[ -n "$pids" ]] && kill $pids 2>/dev/null
  for _ in $(seq 50); do [[ -z "$(marked_pids)" ]] && break; sleep 0.1; done
  pids=$(marked_pids)
  [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null
  [[ -n "$worker_pid" ]] && kill "$worker_pid" 2>/dev/null
  [[ -n "$redis_pid" ]] && kill "$redis_pid" 2>/dev/null
  [[ -n "$ctr" ]] && bah rm "$ctr" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

user=$(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")
[[ "$user" == "10001:10001" ]] || fail "the image runs as '$user', not 10001:10001"
mapfile -t entrypoint < <(bah inspect --type image --format '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
ctr=$(bah from --pull=never "$IMAGE")

# buildah run takes the container's user and working directory from the image, not its entrypoint.
uid=$(bah run "$ctr" -- node -p 'process.getuid() + ":" + process.getgid() + " node " + process.version')
[[ "$uid" == "10001:10001 node v24."* ]] || fail "expected uid 10001 on Node 24, got: $uid"
help=$(bah run "$ctr" -- "${entrypoint[@]}" cli --help 2>&1) || fail "cli --help: $help"
grep -q 'doctor' <<<"$help" || fail "cli --help printed no usage: $help"
say "cli --help ok as $uid"

redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --maxmemory-policy noeviction \
  --dir "$work" --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
seal="k1:$(head -c 32 /dev/urandom | base64)"
bah run --env "$marker" \
  --env REDIS_URL="redis://127.0.0.1:$redis_port" --env SEAL_KEYS="$seal" --env METRICS_PORT="$metrics_port" \
  --env ARCHIVE_BUCKET=eks-access-smoke \
  --env LOG_LEVEL=info --env AWS_REGION=eu-west-1 \
  "$ctr" -- "${entrypoint[@]}" worker >"$work/worker.log" 2>&1 &
worker_pid=$!
healthy=""
for _ in $(seq 600); do
  if curl -fsS "http://127.0.0.1:$metrics_port/healthz" >/dev/null 2>&1; then
    healthy=yes
    break
  fi
  kill -0 "$worker_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$healthy" ]] || { tail -30 "$work/worker.log" >&2; fail "the worker never answered /healthz"; }
ready=$(curl -sS "http://127.0.0.1:$metrics_port/readyz" || true)
grep -q '"redis"' <<<"$ready" && ! grep -q '"ready":true' <<<"$ready" && { tail -30 "$work/worker.log" >&2; fail "/readyz: $ready"; }
[[ $(redis-cli -p "$redis_port" --scan --pattern '{eks-access}*' | wc -l) -gt 0 ]] || fail "the worker wrote nothing to Redis"
say "worker /healthz ok, /readyz: $ready"
say "image $IMAGE: $(bah images --format '{{.Size}}' "$IMAGE" | head -1)"
