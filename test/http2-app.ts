/**
 * A small prior-knowledge HTTP/2 (h2c) server for pod tests, on node:http2. Prints one JSON line
 * per finished or reset stream so tests can check what reached the server.
 *
 *   node http2-app.js serve --port 8081
 *   POST /sha        → {"bytes":N,"sha":"..."} of the request body
 *   GET  /reset      → 200, 100 KiB of body, then RST_STREAM (INTERNAL_ERROR) mid-response
 *   GET  /slow?ms=N  → 200 after N ms
 */
import * as http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';

const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

function serve(port: number): void {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const url = new URL(String(headers[':path']), 'http://x');
    stream.on('error', () => {});
    stream.on('close', () => stream.rstCode !== 0 && emit({ event: 'stream-reset', path: url.pathname, rstCode: stream.rstCode }));
    if (url.pathname === '/sha') {
      const h = createHash('sha256');
      let bytes = 0;
      stream.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
      });
      stream.on('end', () => {
        const body = { bytes, sha: h.digest('hex'), authority: headers[':authority'] };
        emit({ event: 'received', path: url.pathname, ...body });
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify(body));
      });
    } else if (url.pathname === '/reset') {
      stream.respond({ ':status': 200 });
      stream.write(Buffer.alloc(100 * 1024, 1));
      setTimeout(() => stream.destroy(new Error('reset on purpose')), 100);
    } else if (url.pathname === '/slow') {
      emit({ event: 'arrived', path: url.pathname });
      setTimeout(() => {
        if (stream.closed) return;
        stream.respond({ ':status': 200 });
        stream.end('slow\n');
      }, Number(url.searchParams.get('ms') ?? 1000));
    } else {
      stream.respond({ ':status': 404 });
      stream.end();
    }
  });
  server.listen(port, '0.0.0.0', () => emit({ event: 'listening', port }));
  process.on('SIGTERM', () => process.exit(0));
}

if (require.main === module) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { port: { type: 'string' } } });
  if (positionals[0] === 'serve') serve(Number(values.port));
  else {
    process.stderr.write('usage: http2-app.js serve --port P\n');
    process.exit(2);
  }
}
