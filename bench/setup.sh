#!/bin/sh
# The bench's peers on Debian 12 / Ubuntu (run as root): load tools, baselines, apps.
#   wrk, nghttp2-client (h2load), iperf3, redis-tools (redis-benchmark): load generators
#   nginx-light + libnginx-mod-stream, haproxy: the baseline proxies (stream = nginx for TCP)
#   redis-server: the Redis app; iproute2, util-linux (taskset), socat: pods and pinning
#   openssl: the leaf certificates of the peer mesh baseline (the haproxy pair)
set -eu
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  wrk nghttp2-client iperf3 redis-tools redis-server nginx-light libnginx-mod-stream haproxy \
  iproute2 iptables util-linux socat openssl
