#!/usr/bin/env bash
# make docker-test: the Docker image and the compose stack, built and run for real, from nothing.
#  1. engine: starts dockerd when none answers (installs Debian's docker.io, docker-compose and
#     debootstrap when missing), and stops it again at the end if it started it;
#  2. base: a Debian bookworm image with Python 3.11 from Debian's packages (ops/base-image.sh);
#  3. image: built on that base; pip gets the machine's CA bundle as a BuildKit secret (for
#     TLS-inspecting proxies) and the index URL pip is configured with here;
#  4. one container: healthy by its HEALTHCHECK, /rate answers inside it, not root, size printed;
#  5. compose (docker-compose.yml + docker-compose.ci.yml): PostgreSQL, one migration, healthy,
#     a signed-in rating stored and still there after the stack is recreated, then two replicas
#     behind the proxy (--scale app=2) each storing ratings, every 2xx stored exactly once; down -v.
# Everything it made (containers, volumes, images, build cache) is removed at the end, also on
# failure, unless DOCKER_TEST_KEEP_IMAGES=1.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-mastering-trainer-base:bookworm}
APP_IMAGE=mastering-trainer:docker-test
PROJECT=mtdockertest
PORT=${DOCKER_TEST_PORT:-18080}
PIP_CA_BUNDLE=${PIP_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
KEEP_IMAGES=${DOCKER_TEST_KEEP_IMAGES:-0}
SINGLE=mt-docker-test
WORK=$(mktemp -d /tmp/mt-docker-test.XXXXXX)
started_engine=""

step() { printf '\n== [%4ss] %s\n' "$SECONDS" "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
retry() {  # retry N COMMAND...: for steps that reach the network
  local attempts=$1 n=1; shift
  until "$@"; do
    [ "$n" -ge "$attempts" ] && return 1
    echo "attempt $n of $attempts failed: $*; retrying" >&2
    sleep $((n * 10)); n=$((n + 1))
  done
}

# --- 1. engine -------------------------------------------------------------------------------
step "docker engine"
if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null \
    || ! command -v debootstrap >/dev/null; then
  [ "$(id -u)" = 0 ] || fail "install docker.io, docker-compose and debootstrap (as root)"
  export DEBIAN_FRONTEND=noninteractive
  retry 3 apt-get update -qq
  retry 3 apt-get install -y -qq --no-install-recommends docker.io docker-compose debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  dockerd >"$WORK/dockerd.log" 2>&1 &
  started_engine=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 "$WORK/dockerd.log"; fail "dockerd did not start"; }
  echo "started dockerd (pid $started_engine)"
fi
# BuildKit (for the secret): the docker CLI with buildx, else Debian's 20.10 CLI, which has it built in.
DOCKER_CLI=docker
if ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then DOCKER_CLI=/usr/bin/docker; fi
build() { DOCKER_BUILDKIT=1 timeout 1200 "$DOCKER_CLI" build --progress=plain "$@" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; return 1; }; }
COMPOSE=(docker-compose -p "$PROJECT" -f docker-compose.yml -f docker-compose.ci.yml)
command -v docker-compose >/dev/null || COMPOSE=(docker compose -p "$PROJECT" -f docker-compose.yml -f docker-compose.ci.yml)
export APP_IMAGE BASE_IMAGE PORT

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" != 0 ]; then
    echo "--- failed; logs:" >&2
    docker logs --tail 30 "$SINGLE" >&2 2>&1
    "${COMPOSE[@]}" ps >&2
    "${COMPOSE[@]}" logs --tail 30 >&2 2>&1
  fi
  docker rm -fv "$SINGLE" >/dev/null 2>&1
  "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1
  if [ "$KEEP_IMAGES" != 1 ]; then
    docker image rm -f "$APP_IMAGE" mastering-trainer-postgres:local mastering-trainer-proxy:local \
      "$BASE_IMAGE" >/dev/null 2>&1
    "$DOCKER_CLI" builder prune -af >/dev/null 2>&1
  fi
  if [ -n "$started_engine" ]; then
    kill "$started_engine" && wait "$started_engine"
    echo "stopped dockerd"
  fi
  rm -rf "$WORK"
  printf '\n== [%4ss] docker-test %s\n' "$SECONDS" "$([ "$rc" = 0 ] && echo passed || echo FAILED)"
  exit "$rc"
}
trap cleanup EXIT
trap "exit 143" TERM INT  # a timeout still cleans up

wait_healthy() {  # wait_healthy CONTAINER SECONDS
  local status=""
  for _ in $(seq 1 "$2"); do
    status=$(docker inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null || true)
    [ "$status" = healthy ] && return 0
    sleep 1
  done
  fail "$1 is not healthy after $2 s (status: ${status:-none})"
}

# --- 2. base image ---------------------------------------------------------------------------
step "base image $BASE_IMAGE from Debian's packages"
DOCKER=$DOCKER_CLI ops/base-image.sh "$BASE_IMAGE"

# --- 3. the app image ------------------------------------------------------------------------
step "build $APP_IMAGE"
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
index_url=${PIP_INDEX_URL:-$(pip3 config get global.index-url 2>/dev/null || true)}
[[ "$index_url" == http* ]] && build_args+=(--build-arg "PIP_INDEX_URL=$index_url")
for proxy in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
  [ -n "${!proxy:-}" ] && build_args+=(--build-arg "$proxy=${!proxy}")
done
[ -s "$PIP_CA_BUNDLE" ] && build_args+=(--secret "id=pip_ca,src=$PIP_CA_BUNDLE")
retry 3 build "${build_args[@]}" -t "$APP_IMAGE" .
grep -E "^#[0-9]+ [0-9.]+ Successfully installed" "$WORK/build.log" | cut -c1-160 || true
size_mb=$(docker image inspect --format '{{.Size}}' "$APP_IMAGE" | awk '{printf "%.0f", $1 / 1e6}')
echo "image $APP_IMAGE: $size_mb MB"

step "the CA bundle is not in the image"
# Output is read whole before grep (here-strings): with pipefail, `cmd | grep -q` fails when grep
# stops reading early and cmd dies of SIGPIPE (curl: "(23) Failed writing body").
if grep -q "BEGIN CERTIFICATE" <<<"$(docker history --no-trunc "$APP_IMAGE")"; then
  fail "a certificate is in the image's history"
fi
grep -qi "PIP_CERT" <<<"$(docker image inspect --format '{{json .Config.Env}}' "$APP_IMAGE")" \
  && fail "PIP_CERT is set in the image"
docker run --rm --entrypoint sh "$APP_IMAGE" -c \
  'test ! -e /run/secrets/pip_ca && test ! -e /tmp/requirements.lock' || fail "build files left in the image"
echo "no certificate in the history, no PIP_CERT, no secret file"

# --- 4. one container ------------------------------------------------------------------------
step "run one container (SQLite in its volume)"
docker run -d --name "$SINGLE" -p 127.0.0.1::8000 "$APP_IMAGE" >/dev/null
wait_healthy "$SINGLE" 180
echo "healthy by its HEALTHCHECK after ${SECONDS}s total"
uid=$(docker exec "$SINGLE" awk '/^Uid:/ {print $2}' /proc/1/status)
user=$(docker exec "$SINGLE" id -un)
[ "$uid" != 0 ] || fail "the server runs as root"
echo "server process runs as uid $uid ($user)"
docker exec -i "$SINGLE" python - http://127.0.0.1:8000 --count 2 <ops/smoke.py \
  || fail "/rate inside the container"
host_port=$(docker port "$SINGLE" 8000 | head -1)
for path in livez readyz healthz; do
  curl -fsS "http://$host_port/$path" >/dev/null || fail "/$path"
done
grep -q '^mt_analysis_admissions_total 2.0' <<<"$(curl -fsS "http://$host_port/metrics")" \
  || fail "/metrics does not count the 2 admissions"
echo "/livez /readyz /healthz answer 200; /metrics counts 2 admissions"
docker rm -fv "$SINGLE" >/dev/null

# --- 5. compose ------------------------------------------------------------------------------
step "build the local postgres and proxy images"
retry 3 build --build-arg "BASE_IMAGE=$BASE_IMAGE" -t mastering-trainer-postgres:local ops/postgres
retry 3 build --build-arg "BASE_IMAGE=$BASE_IMAGE" -t mastering-trainer-proxy:local ops/proxy

compose_up() {  # compose_up [ARGS...]: up, then wait for every app replica and the proxy
  timeout 300 "${COMPOSE[@]}" up -d --no-build "$@" >/dev/null 2>&1 \
    || { "${COMPOSE[@]}" up -d --no-build "$@"; fail "compose up"; }
  for id in $("${COMPOSE[@]}" ps -q app); do wait_healthy "$id" 180; done
  for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0; sleep 1; done
  fail "the proxy does not answer /readyz on port $PORT"
}
psql() { "${COMPOSE[@]}" exec -T postgres psql -U mastering -d mastering -tAc "$1" | tr -d '\r'; }

step "compose up: PostgreSQL, migrate, app, proxy"
compose_up
[ "$(docker inspect --format '{{.State.ExitCode}}' "$("${COMPOSE[@]}" ps -q migrate)")" = 0 ] \
  || fail "the migration failed"
[ "$(psql 'SELECT count(*) FROM alembic_version')" = 1 ] || fail "alembic_version"
echo "migrated once (migrate exited 0 at $(psql 'SELECT version_num FROM alembic_version')); app healthy"

step "a signed-in rating is stored in PostgreSQL"
echo 'docker-test-password' | "${COMPOSE[@]}" exec -T app mastering-trainer user create \
  --email ci@example.org >/dev/null
token=$("${COMPOSE[@]}" exec -T app mastering-trainer token create --email ci@example.org | tr -d '\r')
first=$(.venv/bin/python ops/smoke.py "http://127.0.0.1:$PORT" --token "$token") \
  || fail "signed-in /rate: $first"
rating_id=$(echo "$first" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["ids"][0])')
echo "stored rating $rating_id; ratings in PostgreSQL: $(psql 'SELECT count(*) FROM ratings')"

step "the rating survives a restart (containers recreated, volumes kept)"
"${COMPOSE[@]}" down >/dev/null 2>&1
compose_up
stored=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/ratings/$rating_id")
grep -q "\"id\":$rating_id" <<<"$stored" || fail "rating $rating_id is gone after the restart"
echo "rating $rating_id still served after down/up"

step "two replicas behind the proxy (--scale app=2)"
compose_up --scale app=2
replicas=$("${COMPOSE[@]}" ps -q app)
[ "$(echo "$replicas" | wc -l)" = 2 ] || fail "expected 2 app replicas"
sleep 11  # the proxy looks the replicas up again every 10 s
before=$(psql 'SELECT count(*) FROM ratings')
burst=$(.venv/bin/python ops/smoke.py "http://127.0.0.1:$PORT" --token "$token" --count 12 --concurrency 4) \
  || fail "ratings through the proxy: $burst"
echo "$burst"
after=$(psql 'SELECT count(*) FROM ratings')
distinct=$(psql 'SELECT count(DISTINCT id) FROM ratings')
[ $((after - before)) = 12 ] && [ "$distinct" = "$after" ] \
  || fail "12 answers of 200 but $((after - before)) new rows ($distinct distinct of $after)"
for id in $replicas; do
  served=$(docker logs "$id" 2>&1 | grep -c '"path": "/rate", "status": 200' || true)
  echo "replica ${id:0:12} answered $served ratings"
  [ "$served" -gt 0 ] || fail "replica ${id:0:12} answered none"
done
echo "12 answers of 200, 12 new rows, every id once, both replicas served"

step "down -v"
"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1
if grep -q "^${PROJECT}_" <<<"$(docker volume ls -q)"; then fail "volumes left behind"; fi
echo "stack and volumes removed; image size was $size_mb MB"
