#!/usr/bin/env bash
# Installs what `make demo` and `make test` need and is missing: Debian packages, then the virtualenv.
# Idempotent and quiet when nothing is missing, so both make targets call it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need_pkgs+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || need_pkgs+=(influxdb)
# VictoriaMetrics (single node), the time-series store that scales past one InfluxDB OSS (docs/victoriametrics.md)
command -v victoria-metrics >/dev/null 2>&1 || need_pkgs+=(victoria-metrics)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3 python3-venv)
# PostgreSQL, the district store; the tests start their own throwaway cluster with it
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need_pkgs+=(postgresql)
# NATS server with JetStream, the district tier's log and leases; the tests start their own 3-node cluster
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need_pkgs+=(nats-server)
# Headless Chromium for the tests that look at pages and reports (driven by Playwright, never downloaded),
# with a CJK font so screenshots show the Chinese text.
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need_pkgs+=(fonts-wqy-zenhei)
# systemd-analyze, which checks the units `guardian install` writes (no running systemd needed)
command -v systemd-analyze >/dev/null 2>&1 || need_pkgs+=(systemd)
# npm, for the one script the page tests inject (axe-core, the accessibility audit), kept in node_modules/
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need_pkgs[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  if [ -t 1 ]; then
    # on a terminal, dpkg's own progress bar at the bottom of the screen; in CI logs, quiet
    $sudo apt-get install -y -q --no-install-recommends -o Dpkg::Progress-Fancy=1 "${need_pkgs[@]}"
  else
    $sudo apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi
  # The Debian packages start system services where an init system runs; ours run as children of
  # the demo and the tests on their own ports, so a system copy is left alone.
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> creating .venv with the project and its test extras"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  if [ -t 1 ]; then
    # pip's download progress bars on a terminal (the first install fetches ~150 MB)
    .venv/bin/pip install --disable-pip-version-check --progress-bar on -e '.[test,bench]'
  else
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test,bench]'
  fi
  echo "$want" > "$stamp"
fi

# --- axe-core: the accessibility audit the page tests inject into the resident app and the console ---------
# From the npm registry into ./node_modules, at the version package-lock.json pins; reinstalled when the lock
# changes. The page tests fail (never skip) without it.
npm_want=$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f node_modules/axe-core/axe.min.js ] || [ "$(cat node_modules/.installed 2>/dev/null)" != "$npm_want" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "==> installing Debian packages: npm"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "==> installing the page tests' npm packages into node_modules/"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$npm_want" > node_modules/.installed
fi
