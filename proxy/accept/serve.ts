/**
 * Hands a connection to the protocol that serves it, from a table the side's stack gives (accept
 * never imports a protocol). The accepted side's TCP metrics start here, once per connection,
 * whatever serves it.
 */
import type { Socket } from 'node:net';
import type { TcpMetrics } from '../metrics/tcp-metrics';
import type { Conn } from './context';
import type { Detected } from './detect/detect';
import type { Prefix } from './read-prefix';

/** A detected protocol's server; `prefix` holds the bytes detection read, to be handled first. */
export type ProtocolHandler = (client: Socket, prefix: Buffer, detected: Detected, conn: Conn) => Promise<void>;

export type ProtocolTable = Readonly<Record<Detected['kind'], ProtocolHandler>>;

/** Nothing was detected: a silent client (the server speaks first) or a FIN before any decision. */
const UNDETECTED: Detected = Object.freeze({ kind: 'opaque', reason: 'undecided' });

export class Dispatch {
  constructor(
    private readonly table: ProtocolTable,
    private readonly tcp: TcpMetrics,
  ) {}

  serve(client: Socket, prefix: Buffer, detected: Detected, conn: Conn): Promise<void> {
    // Set on the connection's own context, not a copy of it: one object less per connection.
    conn.src = this.tcp.track({ direction: conn.side.direction, peer: 'src', target_addr: conn.target.addr, ...conn.srcTls }, client);
    return this.table[detected.kind](client, prefix, detected, conn);
  }

  /** After detection: the detected protocol, or opaque with every byte read when nothing was. */
  serveDetected(client: Socket, prefix: Prefix, conn: Conn): Promise<void> {
    const { side, target, log } = conn;
    const o = prefix.outcome;
    if (o.kind === 'gone') {
      log.debug('client left during detection', { target: target.addr, errno: o.errno });
      client.destroy();
      return Promise.resolve();
    }
    if (o.kind !== 'detected') {
      log.debug('opaque', { direction: side.direction, target: target.addr, why: o.kind, prefix_bytes: prefix.bytes.length });
      return this.serve(client, prefix.bytes, UNDETECTED, conn);
    }
    log.debug('detected', { direction: side.direction, target: target.addr, protocol: o.detected.kind, prefix_bytes: prefix.bytes.length });
    return this.serve(client, prefix.bytes, o.detected, conn);
  }
}
