/**
 * Which handler takes a connection once detection has spoken. One line per protocol, so each
 * protocol's handler plugs in here and nowhere else.
 */
import type { Socket } from 'node:net';
import type { Detected } from '../detect/detect';
import type { ConnContext } from './context';
import { forwardOpaque } from './forward-opaque';
import { serveH2 } from '../http/h2/serve';
import { proxyHttp1 } from '../http/h1';

/** A detected protocol's handler; `prefix` holds the bytes detection read, to be handled first. */
export type ProtocolHandler = (client: Socket, prefix: Buffer, detected: Detected, ctx: ConnContext) => Promise<void>;

const opaque: ProtocolHandler = (client, prefix, _detected, ctx) => forwardOpaque(client, ctx, { initial: prefix });

const HANDLERS: Record<Detected['kind'], ProtocolHandler> = {
  http1: proxyHttp1,
  h2: serveH2,
  tls: opaque,
  opaque,
};

export function handlerFor(detected: Detected): ProtocolHandler {
  return HANDLERS[detected.kind];
}
