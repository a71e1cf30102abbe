/**
 * The CLI's side of the viz API: GET a path, JSON back; the two failures a user meets get one
 * clear line each (the service unreachable: where it was looked for and how to start it; an
 * unknown name: the names that exist).
 */
import { LinnetError } from '../../core/errors';

export const DEFAULT_VIZ_ADDR = 'localhost:8085';

export function vizAddr(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env['LINNET_VIZ_ADDR'] ?? DEFAULT_VIZ_ADDR;
}

export const baseUrl = (addr: string) => (/^https?:\/\//.test(addr) ? addr.replace(/\/$/, '') : `http://${addr}`);

export class VizClientError extends LinnetError {}

/** Why a fetch failed, in a word: undici hides the socket's code in `cause` (or in `cause.errors`). */
export function fetchFailure(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string; errors?: { code?: string }[] } };
  if (e.name === 'TimeoutError') return 'timed out';
  const code = e.cause?.code ?? e.cause?.errors?.find((x) => x.code)?.code;
  // undici's own codes (UND_ERR_SOCKET) say less than its message ("other side closed").
  if (code && !code.startsWith('UND_ERR')) return code;
  return e.cause?.message ?? code ?? e.message;
}

export async function vizGet(addr: string, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const url = `${baseUrl(addr)}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new VizClientError('LINNET_VIZ_UNREACHABLE', `cannot reach the viz service at ${baseUrl(addr)} (${fetchFailure(err)})`, {
      hint: 'start it with `linnet control` (it serves viz on 127.0.0.1:8085) or `npm start`, or point --viz-addr / LINNET_VIZ_ADDR at it',
    });
  }
  return { status: res.status, body: await res.text() };
}

export async function vizJson<T>(addr: string, path: string): Promise<T> {
  const { status, body } = await vizGet(addr, path);
  let parsed: { error?: string; known?: string[] } & Record<string, unknown>;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new VizClientError('LINNET_VIZ_BAD_ANSWER', `${baseUrl(addr)}${path} answered ${status} with something that is not JSON`, { hint: 'is --viz-addr the viz service?' });
  }
  if (status === 404 && parsed.known) {
    throw new VizClientError('LINNET_VIZ_NOT_FOUND', `${parsed.error}; these exist: ${parsed.known.length ? parsed.known.join(', ') : '(none yet)'}`);
  }
  if (status !== 200) throw new VizClientError('LINNET_VIZ_REQUEST_FAILED', `${parsed.error ?? `HTTP ${status}`}${parsed.known ? ` (accepted: ${parsed.known.join(', ')})` : ''}`);
  return parsed as T;
}

/** A server-sent events stream from the viz service: each event's name and parsed data. */
export async function* vizEvents(addr: string, path: string, signal: AbortSignal): AsyncGenerator<{ event: string; data: unknown }> {
  const url = `${baseUrl(addr)}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    if (signal.aborted) return;
    throw new VizClientError('LINNET_VIZ_UNREACHABLE', `cannot reach the viz service at ${baseUrl(addr)} (${fetchFailure(err)})`, {
      hint: 'start it with `linnet control` (it serves viz on 127.0.0.1:8085) or `npm start`, or point --viz-addr / LINNET_VIZ_ADDR at it',
    });
  }
  if (res.status !== 200) {
    const body = (await res.json().catch(() => ({}))) as { error?: string; known?: string[] };
    if (res.status === 404 && body.known) throw new VizClientError('LINNET_VIZ_NOT_FOUND', `${body.error}; these exist: ${body.known.join(', ') || '(none yet)'}`);
    throw new VizClientError('LINNET_VIZ_REQUEST_FAILED', body.error ?? `HTTP ${res.status}`);
  }
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) };
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}
