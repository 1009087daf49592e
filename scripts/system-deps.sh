#!/usr/bin/env bash
# The system programs the tests run for real, in ONE list (Debian/Ubuntu package → the binary the tests start).
# Run by `npm test` (the pretest script) and by .ci/run, before anything else:
# - everything on PATH: nothing to do;
# - something missing, running as root with apt-get: install the missing packages (apt-get update once,
#   noninteractive, --no-install-recommends);
# - otherwise: stop, printing the one command that installs them, before any test runs.
set -euo pipefail

PACKAGES=(
  "caddy:caddy"               # test/e2e: Caddy forward_auth (deploy/caddy/Caddyfile)
  "nginx-light:nginx"         # test/e2e: nginx auth_request (deploy/nginx/nginx.conf)
  "redis-server:redis-server" # replay store tests against a real Redis
  "chromium:chromium"         # browser sign-in tests
  "openssl:openssl"           # certificate chains for x5c tests
)

missing_packages() {
  local entry
  for entry in "${PACKAGES[@]}"; do
    command -v "${entry#*:}" >/dev/null 2>&1 || printf '%s\n' "${entry%%:*}"
  done
}

hint_for() {
  # Installed but not on PATH (nginx lives in /usr/sbin, which a non-root PATH often lacks).
  local entry bin
  for entry in "${PACKAGES[@]}"; do
    bin="${entry#*:}"
    if ! command -v "$bin" >/dev/null 2>&1; then
      for dir in /usr/sbin /sbin /usr/local/sbin; do
        [ -x "$dir/$bin" ] && echo "system-deps: $bin is installed at $dir/$bin but $dir is not on PATH; add it: export PATH=\"\$PATH:$dir\"" >&2
      done
    fi
  done
  return 0
}

mapfile -t missing < <(missing_packages)
[ "${#missing[@]}" -eq 0 ] && exit 0

install_command="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${missing[*]} for the tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
  mapfile -t still < <(missing_packages)
  if [ "${#still[@]}" -gt 0 ]; then
    echo "system-deps: still missing after apt-get install: ${still[*]}" >&2
    hint_for
    exit 1
  fi
  exit 0
fi

echo "system-deps: the tests run real programs that are missing here: ${missing[*]}" >&2
hint_for
echo "system-deps: install them with this one command, then run npm test again:" >&2
if [ "$(id -u)" = 0 ]; then
  echo "  $install_command" >&2
else
  echo "  sudo sh -c '$install_command'" >&2
fi
exit 1
