/**
 * The peer mesh baseline: two haproxies, one beside the client (load pod) and one beside the
 * server (app pod), with mTLS and pooled HTTP/2 between them (configs in topology.ts). Here: their
 * certificates, and the check that a path really went through both with mTLS and HTTP/2 — from
 * haproxy's own counters (`show stat` on the stats sockets) and from a TLS probe of the inbound
 * side (bench/apps/tls-probe). The readers and verdicts are pure, so they are tested.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { LINNET_BIN, run } from '../control/local/pods';
import { BenchError } from './errors';
import { peerMeshFiles, peerSection, PEER_IDENTITY, type Protocol } from './topology';

/**
 * One CA for the pair (`linnet identity create`: an ECDSA P-256 trust anchor and an issuer it
 * signed, as Linnet's own mesh has) and one P-256 leaf per side signed by the issuer with
 * openssl, for server and client auth. haproxy takes leaf, chain and key in one PEM file.
 */
export async function createPeerCertificates(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const ca = join(dir, 'ca');
  const must = async (what: string, argv: string[]) => {
    const r = await run(argv, { timeoutMs: 30_000 }).catch((err: Error) => ({ code: -1, signal: null, stdout: '', stderr: err.message }));
    if (r.code !== 0) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `${what}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`, 'the peer mesh needs linnet identity and openssl');
  };
  await must('linnet identity create', [process.execPath, LINNET_BIN, 'identity', 'create', '--out', ca, '--force']);
  for (const side of ['load', 'app'] as const) {
    const name = PEER_IDENTITY[side];
    const ext = join(dir, `${side}.ext`);
    writeFileSync(ext, leafExtensions(name));
    await must(`openssl req (${side})`, ['openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${side}.key`), '-subj', `/CN=${name}`, '-out', join(dir, `${side}.csr`)]);
    await must(`openssl x509 (${side})`, [
      'openssl', 'x509', '-req', '-in', join(dir, `${side}.csr`), '-CA', join(ca, 'issuer.crt'), '-CAkey', join(ca, 'issuer.key'),
      '-set_serial', `0x${randomHex(16)}`, '-days', '2', '-sha256', '-extfile', ext, '-out', join(dir, `${side}.crt`),
    ]);
    await must(`openssl verify (${side})`, ['openssl', 'verify', '-CAfile', join(ca, 'ca.crt'), '-untrusted', join(ca, 'issuer.crt'), join(dir, `${side}.crt`)]);
    const pem = [join(dir, `${side}.crt`), join(ca, 'issuer.crt'), join(dir, `${side}.key`)].map((f) => readFileSync(f, 'utf8').trimEnd() + '\n').join('');
    writeFileSync(side === 'load' ? peerMeshFiles(dir).outPem : peerMeshFiles(dir).inPem, pem, { mode: 0o600 });
  }
}

/** A leaf for both ends of mTLS: not a CA, signing only, server and client auth, the name as a DNS SAN. */
export function leafExtensions(name: string): string {
  return ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=DNS:${name}`, ''].join('\n');
}

function randomHex(n: number): string {
  // A positive serial: the first nibble below 8.
  const h = randomBytes(n).toString('hex');
  return (parseInt(h[0]!, 16) & 7).toString(16) + h.slice(1);
}

/** `show stat` (CSV) → one record per `proxy/server` row (FRONTEND, BACKEND, or a server name), by column. */
export function parseHaproxyStat(csv: string): Map<string, Record<string, string>> {
  const lines = csv.split('\n').filter((l) => l.trim());
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) throw new BenchError('LINNET_BENCH_PARSE', 'cannot read haproxy `show stat`: no header line', `the output was: ${csv.trim().slice(0, 300)}`);
  const cols = header.slice(2).split(',');
  const out = new Map<string, Record<string, string>>();
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    const cells = line.split(',');
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      if (c && c !== '-') row[c] = cells[i] ?? '';
    });
    out.set(`${row.pxname}/${row.svname}`, row);
  }
  return out;
}

/** Asks a haproxy's stats socket (a path: reachable from the root namespace) for `show stat`. */
export function haproxyStat(socket: string, timeoutMs = 5000): Promise<Map<string, Record<string, string>>> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let text = '';
    const timer = setTimeout(() => s.destroy(new Error(`no answer on ${socket} within ${timeoutMs} ms`)), timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.end('show stat\n'));
    s.on('data', (d: string) => (text += d));
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(new BenchError('LINNET_BENCH_TOOL_FAILED', `haproxy stats socket ${socket}: ${err.message}`, 'is the haproxy running?'));
    });
    s.on('close', (hadError) => {
      clearTimeout(timer);
      if (hadError) return;
      try {
        resolve(parseHaproxyStat(text));
      } catch (err) {
        reject(err);
      }
    });
  });
}

export interface PeerStats {
  out: Map<string, Record<string, string>>;
  in: Map<string, Record<string, string>>;
}

/**
 * What the counters must show after traffic went through the pair on `proto`: the outbound side
 * forwarded requests (no connect or response errors, no 5xx) over HTTP/2 streams on TLS, and the
 * inbound side received them as HTTP/2 on its TLS bind (which admits only a verified client
 * certificate). Returns the problems, empty when the path is sound.
 */
export function peerTrafficProblems(before: PeerStats, after: PeerStats, proto: Protocol): string[] {
  const problems: string[] = [];
  const out = peerSection('out', proto);
  const inn = peerSection('in', proto);
  const n = (m: Map<string, Record<string, string>>, key: string, col: string) => Number(m.get(key)?.[col] || 0);
  const delta = (side: 'out' | 'in', key: string, col: string) => n(after[side], key, col) - n(before[side], key, col);
  for (const [side, key] of [['out', `${out}/BACKEND`], ['in', `${inn}/FRONTEND`]] as const) {
    if (!after[side].has(key)) problems.push(`the ${side === 'out' ? 'outbound' : 'inbound'} haproxy has no ${key}`);
  }
  if (problems.length) return problems;
  const forwarded = delta('out', `${out}/BACKEND`, 'req_tot');
  const received = delta('in', `${inn}/FRONTEND`, 'req_tot');
  if (forwarded <= 0) problems.push(`the outbound haproxy forwarded no request (${out} req_tot did not grow)`);
  if (received <= 0) problems.push(`the inbound haproxy received no request on its TLS port (${inn} req_tot did not grow)`);
  for (const col of ['econ', 'eresp', 'hrsp_5xx'] as const) {
    const d = delta('out', `${out}/BACKEND`, col);
    if (d > 0) problems.push(`the outbound haproxy counted ${d} ${col} towards the inbound one`);
  }
  const d5 = delta('in', `${inn}/BACKEND`, 'hrsp_5xx');
  if (d5 > 0) problems.push(`the inbound haproxy counted ${d5} hrsp_5xx from the app`);
  if (delta('out', `${out}/BACKEND`, 'h2_backend_total_streams') <= 0) problems.push(`the outbound haproxy opened no HTTP/2 stream to the inbound one (not h2 between them)`);
  if (delta('in', `${inn}/FRONTEND`, 'h2_headers_rcvd') <= 0) problems.push(`the inbound haproxy received no HTTP/2 HEADERS (not h2 between them)`);
  if (n(after.out, `${out}/BACKEND`, 'ssl_sess') <= 0) problems.push('the outbound haproxy never opened a TLS session to the inbound one');
  if (n(after.in, `${inn}/FRONTEND`, 'ssl_sess') <= 0) problems.push('the inbound haproxy never accepted a TLS session');
  return problems;
}

/** What bench/apps/tls-probe prints. */
export interface TlsProbeReport {
  withCert: { ok: boolean; protocol?: string | null; alpn?: string | false | null; authorized?: boolean; peer?: string; cipher?: string; error?: string; h2?: boolean };
  withoutCert: { refused: boolean; error?: string };
}

/**
 * The inbound side's TLS, seen from the load pod: with the load side's certificate, TLS 1.3,
 * ALPN h2, the server's chain and name verified, and an HTTP/2 server preface; without a client
 * certificate, refused (mTLS required, not optional). Returns the problems.
 */
export function tlsProbeProblems(r: TlsProbeReport): string[] {
  const p: string[] = [];
  const w = r.withCert;
  if (!w.ok) p.push(`TLS with the load side's certificate failed: ${w.error ?? 'no reason'}`);
  else {
    if (w.protocol !== 'TLSv1.3') p.push(`the inbound haproxy negotiated ${w.protocol}, not TLSv1.3`);
    if (w.alpn !== 'h2') p.push(`the inbound haproxy negotiated ALPN ${JSON.stringify(w.alpn)}, not h2`);
    if (!w.authorized) p.push(`the inbound haproxy's certificate did not verify against the pair's CA`);
    if (w.peer !== PEER_IDENTITY.app) p.push(`the inbound haproxy presented ${JSON.stringify(w.peer)}, not ${PEER_IDENTITY.app}`);
    if (!w.h2) p.push('the inbound haproxy sent no HTTP/2 server preface');
  }
  if (!r.withoutCert.refused) p.push('the inbound haproxy accepted a connection without a client certificate (mTLS not required)');
  return p;
}
