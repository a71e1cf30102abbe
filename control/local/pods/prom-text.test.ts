import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText, select, sum, matches, PromTextError } from './prom-text';

const SAMPLE = `# HELP tcp_open_total Total count of opened connections
# TYPE tcp_open_total counter
tcp_open_total{direction="inbound",peer="src",target_addr="10.1.2.3:8080",tls="no_identity"} 3
tcp_open_total{direction="outbound",peer="dst",target_addr="10.1.2.3:8080"} 2
tcp_close_total{direction="inbound",peer="src",target_addr="10.1.2.3:8080",errno=""} 1
tcp_close_total{direction="inbound",peer="src",target_addr="10.1.2.3:8080",errno="ECONNREFUSED"} 4
# TYPE response_latency_ms histogram
response_latency_ms_bucket{le="+Inf"} 7
process_start_time_seconds 1.7e9 1700000000000
weird{msg="a \\"quoted\\" \\\\ back\\nslash", other = "x" ,} NaN
`;

test('parses samples, labels, escapes, exponents, timestamps and special values', () => {
  const { samples, types } = parsePromText(SAMPLE);
  assert.equal(samples.length, 7);
  assert.deepEqual(samples[0], {
    name: 'tcp_open_total',
    labels: { direction: 'inbound', peer: 'src', target_addr: '10.1.2.3:8080', tls: 'no_identity' },
    value: 3,
  });
  assert.equal(types.get('tcp_open_total'), 'counter');
  assert.equal(types.get('response_latency_ms'), 'histogram');
  assert.equal(select(samples, 'response_latency_ms_bucket')[0]!.labels.le, '+Inf');
  assert.equal(select(samples, 'process_start_time_seconds')[0]!.value, 1.7e9);
  const weird = select(samples, 'weird')[0]!;
  assert.equal(weird.labels.msg, 'a "quoted" \\ back\nslash');
  assert.equal(weird.labels.other, 'x');
  assert.ok(Number.isNaN(weird.value));
});

test('sum and select filter by a subset of labels', () => {
  const { samples } = parsePromText(SAMPLE);
  assert.equal(sum(samples, 'tcp_open_total'), 5);
  assert.equal(sum(samples, 'tcp_open_total', { direction: 'inbound' }), 3);
  assert.equal(sum(samples, 'tcp_close_total', { errno: 'ECONNREFUSED' }), 4);
  assert.equal(sum(samples, 'tcp_close_total', { target_addr: '10.1.2.3:8080' }), 5);
  assert.equal(sum(samples, 'tcp_open_total', { direction: 'sideways' }), 0);
  assert.equal(sum(samples, 'no_such_metric'), 0);
  assert.equal(select(samples, 'tcp_close_total', { errno: '' }).length, 1);
  assert.ok(matches({ a: '1', b: '2' }, { a: '1' }));
  assert.ok(!matches({ a: '1' }, { a: '1', b: '2' }));
});

test('NaN and Inf in any case, as Prometheus accepts them (prom-client writes Nan)', () => {
  const { samples } = parsePromText('a Nan\nb nan\nc +Inf\nd -inf\ne Infinity\n');
  assert.ok(Number.isNaN(samples[0]!.value) && Number.isNaN(samples[1]!.value));
  assert.deepEqual(samples.slice(2).map((s) => s.value), [Infinity, -Infinity, Infinity]);
});

test('empty text and CRLF line ends', () => {
  assert.deepEqual(parsePromText('').samples, []);
  assert.equal(parsePromText('a 1\r\nb{x="y"} 2\r\n').samples.length, 2);
});

test('rejects malformed lines with a typed error naming the line', () => {
  for (const [text, line] of [
    ['ok 1\n{x="1"} 2', 2],
    ['m{x="1"', 1],
    ['m{x=1} 2', 1],
    ['m{x="1",x="2"} 2', 1],
    ['m abc', 1],
    ['m', 1],
    ['m 0x1f', 1],
    ['m{x="bad\\t"} 1', 1],
    ['m 1 2 3', 1],
  ] as const) {
    assert.throws(
      () => parsePromText(text),
      (err: unknown) => err instanceof PromTextError && err.code === 'LINNET_PROM_TEXT_INVALID' && err.message.includes(`line ${line}:`),
      text,
    );
  }
});
