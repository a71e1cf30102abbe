/**
 * TCP metrics with linkerd2-proxy's names and labels, so existing Linkerd dashboards work.
 * Each worker thread owns one set on its own registry; the admin server merges them.
 *
 * Bytes are not counted per chunk: a connection's socket already keeps bytesRead/bytesWritten,
 * so the counters are brought up to date when the connection closes and just before a scrape
 * (see TcpStats.flush), which costs nothing on the data path. A socket the kernel relay carries
 * (transport/splice-relay.ts) counts what the relay thread moved in those same two numbers.
 */
import type { Socket } from 'node:net';
import { DstLabelBudget, type DstLabels } from './dst-labels';
import { SrvLabelBudget, type SrvLabels } from './labels';
import { Counter, DST_WILDCARD, Gauge, type Registry, type Series } from './registry';
import { merged } from '../../core/merged';

export type Direction = 'inbound' | 'outbound';
export type Peer = 'src' | 'dst';

/** The labels shared by every TCP series of one connection side. */
export interface TcpLabels {
  direction: Direction;
  peer: Peer;
  target_addr: string;
  tls: string;
  no_tls_reason?: string;
  client_id?: string;
  server_id?: string;
  /** The dialled side of an outbound connection: the endpoint's discovery labels as dst_*. */
  dst?: DstLabels;
  /** Inbound, under a policy: the Server the target port falls under (or the default policy). */
  srv?: SrvLabels;
}

/**
 * What a side's stack adds to every connection side tracked through its view of the metrics
 * (the inbound stack: the port's Server, see `labelled`).
 */
export type TcpLabeler = (labels: TcpLabels) => TcpLabels;

const BASE = ['direction', 'peer', 'target_addr', 'tls', 'no_tls_reason', 'client_id', 'server_id', 'srv_kind', 'srv_name', DST_WILDCARD] as const;

export class TcpMetrics {
  readonly open: Counter;
  readonly close: Counter;
  readonly openConnections: Gauge;
  readonly readBytes: Counter;
  readonly writeBytes: Counter;
  readonly connectErrors: Counter;
  /** Opaque connections by the relay that carried them: `splice` (the kernel) or `userspace`. */
  readonly relays: Counter;
  /** The sides of connections still open, so a scrape can bring their byte counts up to date. */
  private readonly live: Set<TcpStats>;
  /** The tcp_* series of one connection side share its dst_* set. */
  readonly dstBudget: DstLabelBudget;
  /** ... and its srv_* set. */
  readonly srvBudget: SrvLabelBudget;
  /** Set on a view only (see `labelled`). */
  private readonly labeler: TcpLabeler | undefined = undefined;

  constructor(readonly registry: Registry) {
    this.live = new Set();
    this.dstBudget = new DstLabelBudget(registry, 'tcp_open_total');
    this.srvBudget = new SrvLabelBudget(registry, 'tcp_open_total');
    this.open = new Counter(registry, { name: 'tcp_open_total', help: 'Total count of opened connections', labelNames: BASE });
    this.close = new Counter(registry, { name: 'tcp_close_total', help: 'Total count of closed connections', labelNames: [...BASE, 'classification', 'errno'] });
    this.openConnections = new Gauge(registry, { name: 'tcp_open_connections', help: 'Number of currently-open connections', labelNames: BASE });
    this.readBytes = new Counter(registry, { name: 'tcp_read_bytes_total', help: 'Total count of bytes read from peers', labelNames: BASE });
    this.writeBytes = new Counter(registry, { name: 'tcp_write_bytes_total', help: 'Total count of bytes written to peers', labelNames: BASE });
    this.connectErrors = new Counter(registry, {
      name: 'tcp_connect_errors_total',
      help: 'Connections to a target that could not be established (refused, timed out, unreachable)',
      labelNames: ['direction', 'target_addr', 'errno'],
    });
    this.relays = new Counter(registry, {
      name: 'tcp_relay_total',
      help: 'Opaque connections relayed, by relay: splice (in the kernel: both legs plain TCP) or userspace (TLS on a leg)',
      labelNames: ['direction', 'relay'],
    });
  }

  /**
   * Records one side of a connection on `socket`: opened now, closed when the socket closes, with
   * the errno of the error that closed it ('' for a clean close). The one way connections are
   * counted: the accepted side at accept, the dialled side at dial.
   */
  track(labels: TcpLabels, socket: Socket): TrackedSide {
    const stats = new TcpStats(this, this.labeler ? this.labeler(labels) : labels, socket);
    if (socket.closed) {
      stats.close('');
      return stats;
    }
    this.live.add(stats);
    const s = socket as TrackedSocket;
    if (s[TRACKED] === undefined) {
      // Listeners shared by every tracked socket, finding its side through it: no closures per connection.
      s[TRACKED] = stats;
      socket.on('error', onTrackedError);
      socket.on('close', onTrackedClose);
    } else {
      // Tracked twice (not done today): the second side gets listeners of its own.
      socket.on('error', (err: NodeJS.ErrnoException) => stats.sawError(err.code ?? 'EIO'));
      socket.on('close', () => stats.socketClosed());
    }
    return stats;
  }

  /** A tracked side's socket closed: no longer flushed at scrapes. */
  forget(stats: TcpStats): void {
    this.live.delete(stats);
  }

  /**
   * A view that records into the same series and adds `labeler`'s labels to every side it tracks:
   * the inbound stack's, which labels each connection with its port's Server. Tracking through
   * the view and through these metrics is the same apart from the labels.
   */
  labelled(labeler: TcpLabeler): TcpMetrics {
    const inner = this.labeler;
    // A shallow copy: the same families, budgets and set of live sides; only the labeler differs.
    const view = Object.create(TcpMetrics.prototype) as TcpMetrics;
    return Object.assign(view, this, { labeler: inner ? (l: TcpLabels) => labeler(inner(l)) : labeler });
  }

  /** Brings every open connection's byte counters up to date (just before a scrape). */
  flush(): void {
    for (const s of this.live) s.flush();
  }
}

/** One tracked side of a connection. */
export interface TrackedSide {
  /**
   * The proxy is closing this side because of `errno` (a connect that failed for the other side,
   * say): recorded as the close's errno unless the socket's own error came first.
   */
  failed(errno: string): void;
}

/** Only the labels that are set, so absent optional labels do not appear as empty strings. */
function clean(labels: TcpLabels, dst: DstLabels | undefined, srv: SrvLabels | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  if (srv) {
    out['srv_kind'] = srv.srv_kind;
    out['srv_name'] = srv.srv_name;
  }
  if (dst) Object.assign(out, dst.labels);
  return out;
}

interface Counted {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/** The side a socket is tracked as, for the listeners every tracked socket shares. */
const TRACKED = Symbol('linnet.tcp.tracked');
type TrackedSocket = Socket & { [TRACKED]?: TcpStats };

function onTrackedError(this: TrackedSocket, err: NodeJS.ErrnoException): void {
  this[TRACKED]!.sawError(err.code ?? 'EIO');
}

function onTrackedClose(this: TrackedSocket): void {
  this[TRACKED]!.socketClosed();
}

/** One side (src or dst) of one proxied connection: opens, flushes byte counts, closes once. */
export class TcpStats implements TrackedSide {
  /**
   * This side's series, resolved once: a connection holds references to series that every
   * connection with the same labels shares, not a label set of its own.
   */
  private readonly readSeries: Series;
  private readonly writeSeries: Series;
  private readonly openSeries: Series;
  private reportedRead = 0;
  private reportedWritten = 0;
  private closed = false;
  /** Why the socket closed: its own error, else what the proxy said (`failed`); '' for a clean close. */
  private errno = '';

  constructor(
    private readonly metrics: TcpMetrics,
    labels: TcpLabels,
    private readonly socket: Counted,
  ) {
    const l = clean(labels, metrics.dstBudget.admit(labels.dst), metrics.srvBudget.admit(labels.srv));
    metrics.open.inc(l);
    this.openSeries = metrics.openConnections.at(l);
    this.openSeries.value++;
    this.readSeries = metrics.readBytes.at(l);
    this.writeSeries = metrics.writeBytes.at(l);
  }

  /** Bring the byte counters up to date with what the socket has moved so far. */
  flush(): void {
    const r = this.socket.bytesRead - this.reportedRead;
    const w = this.socket.bytesWritten - this.reportedWritten;
    if (r > 0) {
      this.readSeries.value += r;
      this.reportedRead += r;
    }
    if (w > 0) {
      this.writeSeries.value += w;
      this.reportedWritten += w;
    }
  }

  failed(errno: string): void {
    this.errno ||= errno;
  }

  /** The socket's own error: the close's errno, over anything the proxy said. */
  sawError(errno: string): void {
    this.errno = errno;
  }

  /** The socket closed: recorded with the errno seen, and no longer flushed. */
  socketClosed(): void {
    this.close(this.errno);
    this.metrics.forget(this);
  }

  /** Record the close once; `errno` is empty for a clean close. */
  close(errno: string): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    this.openSeries.value--;
    // The gauge's series holds this side's labels, cleaned as the close counter wants them.
    this.metrics.close.inc(merged(this.openSeries.labels, { classification: errno === '' ? 'success' : 'failure', errno }));
  }
}
