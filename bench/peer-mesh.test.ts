/**
 * The peer mesh baseline's pure parts: its two haproxy configs (rendered, and accepted by
 * `haproxy -c` with real certificates where haproxy and openssl are installed), the stats reader,
 * and the verdicts of the path check (counters and TLS probe).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPeerCertificates, leafExtensions, parseHaproxyStat, peerTrafficProblems, tlsProbeProblems, type PeerStats, type TlsProbeReport } from './peer-mesh';
import { peerHopPort, peerMeshFiles, peerMeshInboundConfig, peerMeshOutboundConfig, port, PEER_IDENTITY } from './topology';

// `show stat` of haproxy 2.6.12 (Debian 12) before and after 64 gRPC calls through the pair (rows of the grpc sections).
const HEADER = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,';
const OUT_BEFORE = 'out_grpc,BACKEND,0,0,0,0,900,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,3,0,,0,,1,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,0,0,0,0,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,';
const OUT_AFTER = 'out_grpc,BACKEND,0,0,0,8,900,64,16128,16448,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,3,0,,64,,1,64,,64,,,,0,64,0,0,0,0,,,,64,0,0,0,0,0,0,0,,,0,1,3,6,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,8,56,0,0,,,0,14,18,22,0,,,,,1,0,0,0,-,8,0,0,129,64,24,0,0,0,0,0,0,8,0,8,64,0,0,0,0,0,0,0,0,';
const IN_BEFORE = 'in_grpc,FRONTEND,,,0,0,9000,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,3,0,,,,0,0,0,0,,,,0,0,0,0,0,0,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,0,0,0,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,';
const IN_AFTER = 'in_grpc,FRONTEND,,,8,8,9000,8,16128,16448,0,0,0,,,,,OPEN,,,,,,,,,1,3,0,,,,0,8,0,8,,,,0,64,0,0,0,0,,64,64,64,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,8,8,8,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,8,0,0,64,64,24,0,0,0,0,0,0,8,0,8,64,0,0,0,0,0,0,0,0,';
const IN_BACKEND_AFTER = 'in_grpc,BACKEND,0,0,0,8,900,64,16128,16448,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,3,0,,64,,1,64,,64,,,,0,64,0,0,0,0,,,,64,0,0,0,0,0,0,0,,,0,1,2,7,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,1,63,0,0,,,0,2,6,26,0,,,,,1,0,0,0,-,0,0,0,129,64,3,0,0,0,0,0,0,1,0,1,64,0,0,0,0,0,0,0,0,';

const stats = (...rows: string[]) => parseHaproxyStat([HEADER, ...rows].join('\n') + '\n');

test('show stat: one record per proxy/server, by column name, with the ssl and h2 module counters', () => {
  const m = stats(OUT_AFTER, IN_AFTER);
  assert.deepEqual([...m.keys()], ['out_grpc/BACKEND', 'in_grpc/FRONTEND']);
  const out = m.get('out_grpc/BACKEND')!;
  assert.equal(out.req_tot, '64');
  assert.equal(out.ssl_sess, '8');
  assert.equal(out.h2_backend_total_streams, '64');
  assert.equal(m.get('in_grpc/FRONTEND')!.h2_headers_rcvd, '64');
  assert.equal(out['-'], undefined, 'the module separator column is not a counter');
  assert.throws(() => parseHaproxyStat('Unknown command\n'), /no header line/);
});

test('path check: requests forwarded over h2 on TLS and received on the TLS bind pass; nothing new, errors or no h2 do not', () => {
  const before: PeerStats = { out: stats(OUT_BEFORE), in: stats(IN_BEFORE) };
  const after: PeerStats = { out: stats(OUT_AFTER), in: stats(IN_AFTER, IN_BACKEND_AFTER) };
  assert.deepEqual(peerTrafficProblems(before, after, 'grpc'), []);
  const idle = peerTrafficProblems(after, after, 'grpc');
  assert.ok(idle.some((p) => /outbound haproxy forwarded no request/.test(p)));
  assert.ok(idle.some((p) => /inbound haproxy received no request on its TLS port/.test(p)));
  assert.ok(idle.some((p) => /not h2 between them/.test(p)));
  // The same traffic with connect errors towards the inbound side and 5xx from the app.
  const col = HEADER.slice(2).split(',');
  const set = (row: string, changes: Record<string, string>) => row.split(',').map((c, i) => changes[col[i]!] ?? c).join(',');
  const bad: PeerStats = { out: stats(set(OUT_AFTER, { econ: '3' })), in: stats(IN_AFTER, set(IN_BACKEND_AFTER, { hrsp_5xx: '2' })) };
  assert.deepEqual(peerTrafficProblems(before, bad, 'grpc'), ['the outbound haproxy counted 3 econ towards the inbound one', 'the inbound haproxy counted 2 hrsp_5xx from the app']);
  // HTTP/1.1 between them (no h2 streams), and never a TLS session.
  const h1: PeerStats = { out: stats(set(OUT_AFTER, { h2_backend_total_streams: '0', ssl_sess: '0' })), in: stats(set(IN_AFTER, { h2_headers_rcvd: '0' })) };
  assert.deepEqual(peerTrafficProblems(before, h1, 'grpc'), [
    'the outbound haproxy opened no HTTP/2 stream to the inbound one (not h2 between them)',
    'the inbound haproxy received no HTTP/2 HEADERS (not h2 between them)',
    'the outbound haproxy never opened a TLS session to the inbound one',
  ]);
  // A haproxy without the section (another config) says so.
  assert.deepEqual(peerTrafficProblems(before, after, 'http1'), ['the outbound haproxy has no out_http1/BACKEND', 'the inbound haproxy has no in_http1/FRONTEND']);
});

test('TLS probe: TLS 1.3, h2, the server verified and named, refused without a client certificate', () => {
  const good: TlsProbeReport = {
    withCert: { ok: true, protocol: 'TLSv1.3', alpn: 'h2', authorized: true, peer: PEER_IDENTITY.app, cipher: 'TLS_AES_256_GCM_SHA384', h2: true },
    withoutCert: { refused: true, error: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' },
  };
  assert.deepEqual(tlsProbeProblems(good), []);
  assert.deepEqual(tlsProbeProblems({ ...good, withoutCert: { refused: false } }), ['the inbound haproxy accepted a connection without a client certificate (mTLS not required)']);
  assert.deepEqual(tlsProbeProblems({ ...good, withCert: { ...good.withCert, protocol: 'TLSv1.2', alpn: false } }), [
    'the inbound haproxy negotiated TLSv1.2, not TLSv1.3',
    'the inbound haproxy negotiated ALPN false, not h2',
  ]);
  assert.match(tlsProbeProblems({ ...good, withCert: { ok: false, error: 'ECONNREFUSED' } })[0]!, /failed: ECONNREFUSED/);
  assert.deepEqual(tlsProbeProblems({ ...good, withCert: { ...good.withCert, authorized: false, peer: 'x' } }).length, 2);
});

test('peer mesh configs: one thread each, TLS 1.3 with client certificates, h2 and reuse between them, the app as the other routes reach it', () => {
  const out = peerMeshOutboundConfig({ dir: '/d', appIp: '10.1.2.11' });
  const inn = peerMeshInboundConfig({ dir: '/d' });
  for (const c of [out, inn]) {
    assert.match(c, /^ {2}nbthread 1$/m);
    assert.match(c, /^ {2}ssl-default-bind-options ssl-min-ver TLSv1\.3$/m);
    assert.match(c, /^ {2}ssl-default-server-options ssl-min-ver TLSv1\.3$/m);
    assert.equal((c.match(/^ {2}http-reuse always$/gm) ?? []).length, 2);
  }
  // Outbound: plaintext on loopback (h2c for gRPC), TLS to the app pod's hop port with its certificate, verifying the server.
  assert.match(out, new RegExp(`listen out_http1\\n {2}bind 127\\.0\\.0\\.1:${port('hamesh', 'http1')}\\n`));
  assert.match(out, new RegExp(`bind 127\\.0\\.0\\.1:${port('hamesh', 'grpc')} proto h2\\n`));
  assert.match(
    out,
    new RegExp(`server app 10\\.1\\.2\\.11:${peerHopPort('http1')} ssl crt /d/load\\.pem ca-file /d/ca/ca\\.crt verify required verifyhost app\\.bench\\.peer-mesh\\.local sni str\\(app\\.bench\\.peer-mesh\\.local\\) alpn h2$`, 'm'),
  );
  // Inbound: TLS requiring a client certificate from the CA, ALPN h2; HTTP/1.1 to the app for HTTP/1.1, h2 for gRPC.
  assert.match(inn, new RegExp(`bind 0\\.0\\.0\\.0:${peerHopPort('http1')} ssl crt /d/app\\.pem ca-file /d/ca/ca\\.crt verify required alpn h2\\n {2}http-reuse always\\n {2}server app 127\\.0\\.0\\.1:${port('direct', 'http1')}\\n`));
  assert.match(inn, new RegExp(`server app 127\\.0\\.0\\.1:${port('direct', 'grpc')} proto h2\\n`));
  assert.match(inn, /stats socket \/d\/haproxy-in\.sock /);
  assert.match(out, /stats socket \/d\/haproxy-out\.sock /);
  assert.match(leafExtensions('a.b'), /^subjectAltName=DNS:a\.b$/m);
  assert.match(leafExtensions('a.b'), /^extendedKeyUsage=serverAuth,clientAuth$/m);
});

const has = (tool: string, args: string[]) => spawnSync(tool, args, { stdio: 'ignore' }).status === 0;
const haproxySkip = !has('haproxy', ['-v']) ? 'haproxy is not installed' : !has('openssl', ['version']) ? 'openssl is not installed' : false;

test('peer mesh configs with real certificates: haproxy -c accepts both; the leaves chain to the CA with their names', { skip: haproxySkip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-peer-mesh-'));
  try {
    await createPeerCertificates(dir);
    const f = peerMeshFiles(dir);
    writeFileSync(f.outConfig, peerMeshOutboundConfig({ dir, appIp: '10.1.2.11' }));
    writeFileSync(f.inConfig, peerMeshInboundConfig({ dir }));
    for (const cfg of [f.outConfig, f.inConfig]) {
      const r = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
      assert.equal(r.status, 0, `haproxy -c -f ${cfg}: ${r.stdout}${r.stderr}`);
    }
    for (const [side, pem] of [['load', f.outPem], ['app', f.inPem]] as const) {
      const text = readFileSync(pem, 'utf8');
      assert.equal((text.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'leaf and issuer');
      assert.match(text, /BEGIN PRIVATE KEY/);
      const v = spawnSync('openssl', ['verify', '-CAfile', f.ca, '-untrusted', join(dir, 'ca', 'issuer.crt'), '-verify_hostname', PEER_IDENTITY[side], '-purpose', side === 'app' ? 'sslserver' : 'sslclient', join(dir, `${side}.crt`)], { encoding: 'utf8' });
      assert.equal(v.status, 0, v.stdout + v.stderr);
    }
    // A config haproxy refuses is caught the same way (the check is not vacuous).
    writeFileSync(f.inConfig, peerMeshInboundConfig({ dir }).replace('verify required', 'verify sometimes'));
    assert.notEqual(spawnSync('haproxy', ['-c', '-f', f.inConfig], { encoding: 'utf8' }).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
