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

export async function vizGet(addr: string, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const url = `${baseUrl(addr)}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.message);
    throw new VizClientError('LINNET_VIZ_UNREACHABLE', `cannot reach the viz service at ${baseUrl(addr)} (${why})`, {
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
