/**
 * Where everything listens in the bench cluster (pure, so it is tested). Two pods on one bridge:
 * `load` (the load tools, Linnet's outbound proxy, the peer mesh's outbound haproxy) and `app`
 * (the backend apps, Linnet's inbound proxy, nginx, haproxy, the peer mesh's inbound haproxy).
 * Every path starts in the load pod and ends at the same app process; only the port decides the
 * path, through `linnet init`'s ignore lists:
 *
 *   direct   100xx  ignored by both pods' iptables         load ──────────────────────► app
 *   nginx    101xx  ignored; nginx listens, → 127.0.0.1:100xx  load ──► nginx ─────────► app
 *   haproxy  102xx  ignored; haproxy listens, → 127.0.0.1:100xx load ──► haproxy ───────► app
 *   linnet   110xx  ignored outbound in load, redirected inbound in app  load ──► linnet ► app
 *   mesh     120xx  redirected on both sides    load ► linnet(out) ══mTLS══► linnet(in) ► app
 *   hamesh   130xx  127.0.0.1 in the load pod: the outbound haproxy, plaintext (an app talking
 *                   to its sidecar); it dials the app pod's 131xx (the inbound haproxy) over
 *                   TLS 1.3 with a client certificate, HTTP/2, pooled; → 127.0.0.1:100xx.
 *                   Both ports ignored by Linnet's iptables on the side they cross:
 *                              load ► haproxy(out) ══mTLS h2══► haproxy(in) ► app
 *
 * xx is the protocol. So the baselines share the namespaces, veths and bridge with the proxies.
 */

export type Protocol = 'http1' | 'h2' | 'grpc' | 'ws' | 'iperf' | 'redis';
/**
 * `routes`: the meshed path to the same app ports, addressed by the Service's virtual IP so that its 50 routes apply.
 * `policy`: as `linnet` (the app pod's inbound proxy only), on ports a Server governs (bench/policy-cost.ts).
 */
export type Route = 'direct' | 'nginx' | 'haproxy' | 'linnet' | 'policy' | 'mesh' | 'routes' | 'hamesh';

export const PROTOCOL_INDEX: Record<Protocol, number> = { http1: 0, h2: 1, grpc: 2, ws: 3, iperf: 4, redis: 5 };
export const ROUTE_BASE: Record<Route, number> = { direct: 10000, nginx: 10100, haproxy: 10200, linnet: 11000, policy: 11100, mesh: 12000, routes: 12000, hamesh: 13000 };
export const PROTOCOLS = Object.keys(PROTOCOL_INDEX) as Protocol[];
/** The peer mesh's hop between its two haproxies: the inbound haproxy's TLS port in the app pod. */
export const PEER_HOP_BASE = 13100;
/** The protocols the haproxy pair carries (the meshed scenarios): HTTP/1.1 and gRPC. */
export const PEER_MESH_PROTOCOLS: readonly Protocol[] = ['http1', 'grpc'];

export function port(route: Route, proto: Protocol): number {
  return ROUTE_BASE[route] + PROTOCOL_INDEX[proto];
}

/** The inbound haproxy's TLS port for a protocol (the outbound haproxy dials the app pod's). */
export function peerHopPort(proto: Protocol): number {
  return PEER_HOP_BASE + PROTOCOL_INDEX[proto];
}

/** The app pod: the baselines' ports and the peer mesh's TLS hop bypass its inbound proxy. */
export function appInboundIgnore(): number[] {
  return [...(['direct', 'nginx', 'haproxy'] as const).flatMap((r) => PROTOCOLS.map((p) => port(r, p))), ...PROTOCOLS.map(peerHopPort)];
}

/**
 * The load pod: everything but the mesh path bypasses its outbound proxy; for the peer mesh, both
 * its sidecar port (which, on 127.0.0.1, the loopback rule exempts anyway) and the TLS hop it dials.
 */
export function loadOutboundIgnore(): number[] {
  return [...(['direct', 'nginx', 'haproxy', 'linnet', 'policy', 'hamesh'] as const).flatMap((r) => PROTOCOLS.map((p) => port(r, p))), ...PROTOCOLS.map(peerHopPort)];
}

/** The ports the app process (or each redis/iperf3 instance) must listen on: one per app route (the policy route: HTTP/1.1 only). */
export function appPorts(proto: Protocol): number[] {
  return [...(['direct', 'linnet', 'mesh'] as const).map((r) => port(r, proto)), ...(proto === 'http1' ? [port('policy', proto)] : [])];
}

export interface ProxyConfigOptions {
  /** Directory for pid, logs and temp files. */
  dir: string;
  /** Whether nginx has its stream module (libnginx-mod-stream) for the TCP scenarios. */
  streamModule?: string;
  /**
   * Client connections the proxy must hold at once (the idle-conns scenario), beyond the 9,000
   * the other scenarios' configs allow: raises nginx's worker_connections and open-file limit and
   * haproxy's maxconn. Unset for every other scenario, so their figures keep the usual config
   * (nginx preallocates its connection structures: a higher worker_connections costs memory idle).
   */
  maxConnections?: number;
  /**
   * The hard open-file limit the proxy can raise itself to (the bench's own; without
   * CAP_SYS_RESOURCE not even root goes above it). haproxy refuses to start when the limit its
   * maxconn implies is above it, so with maxConnections it is told to run with what it gets.
   */
  fdLimit?: number;
}

/** Connection slots a proxy's config gives beyond the client connections it must hold (upstream, listeners). */
export const CONNECTION_HEADROOM = 1024;

function connectionSlots(o: ProxyConfigOptions): number {
  return Math.max(9000, (o.maxConnections ?? 0) + CONNECTION_HEADROOM);
}

/**
 * nginx as a reverse proxy with one worker, on the same path: keep-alive to the app (as Linnet
 * and haproxy do), no access log, no buffering to disk of large bodies. HTTP/2 is h2c on the
 * listener and HTTP/1.1 to the app (nginx cannot proxy HTTP/2 upstream except for gRPC). Bodies
 * stream both ways (no buffering to disk), as they do through Linnet and haproxy.
 */
export function nginxConfig(o: ProxyConfigOptions): string {
  const up = (proto: Protocol) => `127.0.0.1:${port('direct', proto)}`;
  const http1Location = `proxy_pass http://http1_app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; proxy_max_temp_file_size 0; proxy_request_buffering off; client_max_body_size 64m;`;
  const lines = [
    o.streamModule ? `load_module ${o.streamModule};` : '',
    'user root;',
    'worker_processes 1;',
    'daemon off;',
    'master_process on;',
    `pid ${o.dir}/nginx.pid;`,
    `error_log ${o.dir}/nginx-error.log warn;`,
    // Two descriptors per proxied connection (client and upstream), and some for files.
    `worker_rlimit_nofile ${Math.min(Math.max(20000, 2 * connectionSlots(o) + 1024), o.fdLimit ?? Infinity)};`,
    `events { worker_connections ${connectionSlots(o)}; multi_accept on; }`,
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${o.dir}/nginx-body; proxy_temp_path ${o.dir}/nginx-proxy;`,
    `  fastcgi_temp_path ${o.dir}/nginx-fcgi; uwsgi_temp_path ${o.dir}/nginx-uwsgi; scgi_temp_path ${o.dir}/nginx-scgi;`,
    '  keepalive_requests 1000000; keepalive_timeout 120s; http2_max_requests 1000000;',
    `  upstream http1_app { server ${up('http1')}; keepalive 256; }`,
    `  upstream grpc_app { server ${up('grpc')}; keepalive 256; }`,
    `  upstream ws_app { server ${up('ws')}; }`,
    `  server { listen ${port('nginx', 'http1')} reuseport; location / { ${http1Location} } }`,
    `  server { listen ${port('nginx', 'h2')} http2; location / { ${http1Location} } }`,
    `  server { listen ${port('nginx', 'grpc')} http2; location / { grpc_pass grpc://grpc_app; } }`,
    `  server { listen ${port('nginx', 'ws')}; location / { proxy_pass http://ws_app; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade"; proxy_read_timeout 300s; } }`,
    '}',
  ];
  if (o.streamModule) {
    lines.push(
      'stream {',
      `  server { listen ${port('nginx', 'iperf')}; proxy_pass ${up('iperf')}; }`,
      `  server { listen ${port('nginx', 'redis')}; proxy_pass ${up('redis')}; }`,
      '}',
    );
  }
  return lines.filter(Boolean).join('\n') + '\n';
}

/** haproxy with one thread: HTTP mode for HTTP/1, h2 end to end for HTTP/2 and gRPC, TCP mode for the rest. */
export function haproxyConfig(o: ProxyConfigOptions): string {
  const up = (proto: Protocol) => `127.0.0.1:${port('direct', proto)}`;
  return [
    'global',
    '  nbthread 1',
    `  maxconn ${connectionSlots(o)}`,
    // haproxy wants two descriptors per maxconn and by default refuses to start when it cannot
    // raise its limit that far; idle client connections hold one each, so it may run with less.
    ...(o.maxConnections && o.fdLimit && o.fdLimit < 2 * connectionSlots(o) + 1024 ? ['  no strict-limits'] : []),
    `  pidfile ${o.dir}/haproxy.pid`,
    'defaults',
    // Each listener's own cap, which would otherwise leave connections beyond it in the backlog.
    ...(o.maxConnections ? [`  maxconn ${connectionSlots(o)}`] : []),
    '  timeout connect 5s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  timeout tunnel 300s',
    '  option http-keep-alive',
    `listen http1`,
    `  mode http`,
    `  bind 0.0.0.0:${port('haproxy', 'http1')}`,
    `  server app ${up('http1')}`,
    `listen h2`,
    `  mode http`,
    `  bind 0.0.0.0:${port('haproxy', 'h2')} proto h2`,
    `  server app ${up('h2')} proto h2`,
    `listen grpc`,
    `  mode http`,
    `  bind 0.0.0.0:${port('haproxy', 'grpc')} proto h2`,
    `  server app ${up('grpc')} proto h2`,
    `listen ws`,
    `  mode http`,
    `  bind 0.0.0.0:${port('haproxy', 'ws')}`,
    `  server app ${up('ws')}`,
    `listen iperf`,
    `  mode tcp`,
    `  bind 0.0.0.0:${port('haproxy', 'iperf')}`,
    `  server app ${up('iperf')}`,
    `listen redis`,
    `  mode tcp`,
    `  bind 0.0.0.0:${port('haproxy', 'redis')}`,
    `  server app ${up('redis')}`,
    '',
  ].join('\n');
}

/** The peer mesh's two workload identities (DNS SANs of the haproxies' leaf certificates). */
export const PEER_IDENTITY = { load: 'load.bench.peer-mesh.local', app: 'app.bench.peer-mesh.local' } as const;

export interface PeerMeshConfigOptions {
  /** Directory for the pid file, the stats socket, the certificates (see peerMeshFiles). */
  dir: string;
}

/** Where the pair's files are, under `dir`: one CA, a leaf (cert, issuer, key in one PEM) per side. */
export function peerMeshFiles(dir: string) {
  return {
    ca: `${dir}/ca/ca.crt`,
    outPem: `${dir}/load.pem`,
    inPem: `${dir}/app.pem`,
    outConfig: `${dir}/haproxy-out.cfg`,
    inConfig: `${dir}/haproxy-in.cfg`,
    outSocket: `${dir}/haproxy-out.sock`,
    inSocket: `${dir}/haproxy-in.sock`,
  };
}

/** The section names of the pair (one `listen` per protocol and side), read back by the check. */
export function peerSection(side: 'out' | 'in', proto: Protocol): string {
  return `${side}_${proto}`;
}

function peerGlobal(dir: string, side: 'out' | 'in'): string[] {
  const f = peerMeshFiles(dir);
  return [
    'global',
    '  nbthread 1',
    '  maxconn 9000',
    `  pidfile ${dir}/haproxy-${side}.pid`,
    // The check reads the counters here (requests, TLS sessions, HTTP/2 streams).
    `  stats socket ${side === 'out' ? f.outSocket : f.inSocket} mode 600 level admin`,
    '  ssl-default-bind-options ssl-min-ver TLSv1.3',
    '  ssl-default-server-options ssl-min-ver TLSv1.3',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  option http-keep-alive',
  ];
}

/**
 * The peer mesh's outbound haproxy, in the load pod: plaintext on 127.0.0.1:130xx (HTTP/1.1, or
 * h2c prior knowledge for gRPC, as the single-hop haproxy listens), then TLS 1.3 to the app pod's
 * inbound haproxy with its client certificate, verifying the server's chain against the pair's CA
 * and its name, ALPN h2, and `http-reuse always` so every client connection's requests share the
 * pooled HTTP/2 connections.
 */
export function peerMeshOutboundConfig(o: PeerMeshConfigOptions & { appIp: string }): string {
  const f = peerMeshFiles(o.dir);
  const lines = peerGlobal(o.dir, 'out');
  for (const p of PEER_MESH_PROTOCOLS) {
    lines.push(
      `listen ${peerSection('out', p)}`,
      `  bind 127.0.0.1:${port('hamesh', p)}${p === 'http1' ? '' : ' proto h2'}`,
      '  http-reuse always',
      `  server app ${o.appIp}:${peerHopPort(p)} ssl crt ${f.outPem} ca-file ${f.ca} verify required verifyhost ${PEER_IDENTITY.app} sni str(${PEER_IDENTITY.app}) alpn h2`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * The peer mesh's inbound haproxy, in the app pod: TLS 1.3 on 131xx that requires a client
 * certificate from the pair's CA (`verify required`), ALPN h2; then the app on 127.0.0.1 as the
 * other routes reach it: HTTP/1.1 for HTTP/1.1, h2 for gRPC, pooled (`http-reuse always`).
 */
export function peerMeshInboundConfig(o: PeerMeshConfigOptions): string {
  const f = peerMeshFiles(o.dir);
  const lines = peerGlobal(o.dir, 'in');
  for (const p of PEER_MESH_PROTOCOLS) {
    lines.push(
      `listen ${peerSection('in', p)}`,
      `  bind 0.0.0.0:${peerHopPort(p)} ssl crt ${f.inPem} ca-file ${f.ca} verify required alpn h2`,
      '  http-reuse always',
      `  server app 127.0.0.1:${port('direct', p)}${p === 'http1' ? '' : ' proto h2'}`,
    );
  }
  return lines.join('\n') + '\n';
}
