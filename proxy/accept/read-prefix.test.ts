import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { readPrefix } from './read-prefix';

/** A connected pair on loopback: the accepted side (paused, as the listener hands it on) and the client. */
async function pair(): Promise<{ accepted: Socket; client: Socket; close: () => void }> {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect({ host: '127.0.0.1', port });
  const [accepted] = (await once(server, 'connection')) as [Socket];
  await once(client, 'connect');
  return { accepted, client, close: () => (accepted.destroy(), client.destroy(), server.close()) };
}

function stall(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* the event loop is busy: an accept storm, a long collection */
  }
}

test('bytes that arrived in time but sat unread through an event-loop stall are read before the timeout decides', async () => {
  const { accepted, client, close } = await pair();
  try {
    const p = readPrefix(accepted, 50);
    await new Promise((r) => setImmediate(r)); // reading has started
    client.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    stall(200); // the timer is overdue when the loop comes back, and runs before the poll
    const prefix = await p;
    assert.equal(prefix.outcome.kind, 'detected', JSON.stringify(prefix.outcome));
    assert.equal(prefix.outcome.kind === 'detected' && prefix.outcome.detected.kind, 'http1');
  } finally {
    close();
  }
});

test('a client that sends nothing is still answered timeout (server speaks first)', async () => {
  const { accepted, close } = await pair();
  try {
    const t0 = Date.now();
    const prefix = await readPrefix(accepted, 50);
    assert.equal(prefix.outcome.kind, 'timeout');
    assert.equal(prefix.bytes.length, 0);
    assert.ok(Date.now() - t0 >= 45);
  } finally {
    close();
  }
});
