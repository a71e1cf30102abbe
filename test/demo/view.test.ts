import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText } from '../pods/prom-text';
import { formatBytes, rates, renderSummary, renderTable, snapshot } from './view';

const METRICS = `
tcp_open_total{direction="outbound",peer="src",target_addr="10.1.1.11:8080",tls="no_identity"} 10
tcp_open_total{direction="outbound",peer="dst",target_addr="10.1.1.11:8080",tls="no_identity"} 10
tcp_open_connections{direction="outbound",peer="src",target_addr="10.1.1.11:8080",tls="no_identity"} 2
tcp_open_connections{direction="outbound",peer="dst",target_addr="10.1.1.11:8080",tls="no_identity"} 2
tcp_read_bytes_total{direction="outbound",peer="src",target_addr="10.1.1.11:8080",tls="no_identity"} 1000
tcp_read_bytes_total{direction="outbound",peer="dst",target_addr="10.1.1.11:8080",tls="no_identity"} 3000
tcp_write_bytes_total{direction="outbound",peer="src",target_addr="10.1.1.11:8080",tls="no_identity"} 3000
tcp_write_bytes_total{direction="outbound",peer="dst",target_addr="10.1.1.11:8080",tls="no_identity"} 1000
tcp_close_total{direction="outbound",peer="src",target_addr="10.1.1.11:8080",tls="no_identity",classification="success",errno=""} 7
tcp_close_total{direction="outbound",peer="src",target_addr="10.1.1.11:8080",tls="no_identity",classification="failure",errno="ECONNRESET"} 1
tcp_connect_errors_total{direction="outbound",target_addr="10.1.1.11:8080",errno="ECONNREFUSED"} 2
`;

test('snapshot reads the golden TCP numbers from /metrics', () => {
  const s = snapshot(parsePromText(METRICS).samples, 5000);
  assert.deepEqual(s, { at: 5000, opened: 10, open: 2, readBytes: 4000, writeBytes: 4000, errors: 3 });
});

test('rates are per second between snapshots; a reset counter counts from zero', () => {
  const a = { at: 1000, opened: 10, open: 1, readBytes: 1000, writeBytes: 500, errors: 0 };
  const b = { at: 3000, opened: 30, open: 4, readBytes: 5000, writeBytes: 4500, errors: 1 };
  assert.deepEqual(rates(a, b), { open: 4, connsPerSec: 10, inPerSec: 2000, outPerSec: 2000, errors: 1 });
  assert.deepEqual(rates(undefined, b), { open: 4, connsPerSec: 0, inPerSec: 0, outPerSec: 0, errors: 1 });
  const restarted = { at: 4000, opened: 3, open: 0, readBytes: 100, writeBytes: 100, errors: 0 };
  assert.equal(rates(b, restarted).connsPerSec, 3);
});

test('formatBytes', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
});

test('table and summary show every proxy with aligned columns', () => {
  const r = { open: 3, connsPerSec: 19.5, inPerSec: 2048, outPerSec: 4096, errors: 0 };
  const text = renderTable([{ name: 'client (outbound)', rates: r, rss: 50 * 1048576 }, { name: 'server (inbound)', rates: r }], 12_300);
  const lines = text.split('\n');
  assert.match(lines[0]!, /12s/);
  assert.match(lines[2]!, /^proxy\s+open conns\s+conns\/s/);
  assert.match(lines[3]!, /^client \(outbound\)\s+3\s+19\.5\s+2\.0 KiB\/s\s+4\.0 KiB\/s\s+0\s+50\.0 MiB$/);
  assert.equal(lines[3]!.length, lines[2]!.length);
  assert.equal(lines[4]!.length, lines[2]!.length);
  const first = { at: 0, opened: 0, open: 0, readBytes: 0, writeBytes: 0, errors: 0 };
  const last = { at: 10_000, opened: 200, open: 1, readBytes: 2 * 1048576, writeBytes: 1048576, errors: 0 };
  assert.match(renderSummary([{ name: 'client', first, last }], 10_000), /client: 200 connections \(20\.0\/s\), read 2\.0 MiB, wrote 1\.0 MiB, errors 0/);
});
