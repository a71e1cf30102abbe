/**
 * Test fixture: a worker thread that opens its own SO_REUSEPORT listener on the shared port
 * (workerData: { host, port, family, id }), answers every connection with its id, and on
 * 'stop' reports how many connections it accepted.
 */
import { createServer, type AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { LinnetError } from '../../../core/errors';
import { listenReusePort } from '../../../proxy/transport/native/index';

const { host, port, family, id } = workerData as { host: string; port: number; family: 4 | 6; id: string };
let accepted = 0;
const server = createServer((sock) => {
  accepted++;
  sock.end(id);
  sock.on('error', () => {});
});
try {
  const fd = listenReusePort(host, port, family);
  server.listen({ fd }, () => parentPort!.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port }));
} catch (err) {
  parentPort!.postMessage({ type: 'error', code: err instanceof LinnetError ? err.code : 'UNTYPED', message: String(err) });
}
parentPort!.on('message', (msg: string) => {
  if (msg === 'stop') server.close(() => parentPort!.postMessage({ type: 'stopped', accepted }));
});
