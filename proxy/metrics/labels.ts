/**
 * The TLS labels of one side of a connection or request, as linkerd2-proxy writes them: `tls` is
 * `true` with the peer's identity (`client_id` for the accepted side, `server_id` for the dialled
 * one), or `no_identity` with the reason there is none.
 */
export type TlsLabels = { tls: 'true'; client_id?: string; server_id?: string } | { tls: 'no_identity'; no_tls_reason: string };

export function noTls(reason: string): TlsLabels {
  return { tls: 'no_identity', no_tls_reason: reason };
}
