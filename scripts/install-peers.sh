#!/usr/bin/env bash
# Installs the peers and load tools that `make bench-peers` compares against,
# from Debian's packages. Skips what is already there; without root it only
# reports what is missing (the harness then skips those peers and says so).
set -uo pipefail
want=(nginx:nginx-light haproxy:haproxy caddy:caddy wrk:wrk iperf3:iperf3
      redis-server:redis-server redis-benchmark:redis-tools)
missing=()
for w in "${want[@]}"; do
  command -v "${w%%:*}" >/dev/null 2>&1 || missing+=("${w#*:}")
done
# Debian builds nginx's stream (TCP) module as a loadable module in its own
# package; the harness's nginx L4 rows need it.
if ! command -v nginx >/dev/null 2>&1 ||
   { nginx -V 2>&1 | grep -q -- '--with-stream=dynamic' &&
     [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ]; }; then
  missing+=(libnginx-mod-stream)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers: not root; missing: ${missing[*]} (those rows will be skipped)"
  exit 0
fi
echo "install-peers: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null ||
  echo "install-peers: apt-get failed; missing peers will be skipped"
# Debian starts these as services on install; the harness runs its own copies.
for s in nginx haproxy caddy redis-server; do
  systemctl stop "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
done
exit 0
