/** `linnet viz authz deploy/NAME|pod/NAME`: the viz service's /api/authz as Linkerd's table (authz.ts). */
import { LinnetError } from '../../core/errors';
import { renderAuthz, type AuthzRow } from './authz';
import { vizJson } from './client';
import type { Output } from './render';
import { parseRef } from './stat';

/** `c`: the part of viz-command.ts's parsed flags it reads. */
export async function authzCommand(c: { addr: string; output: Output; window: string; namespace?: string; positionals: string[] }): Promise<number> {
  const usage = (m: string) => new LinnetError('LINNET_VIZ_USAGE', m, { hint: 'see `linnet viz --help`' });
  const [what, extra] = c.positionals;
  if (!what || extra !== undefined) throw usage('authz takes one resource: authz deploy/NAME or authz pod/NAME');
  try {
    parseRef(what);
  } catch (err) {
    throw usage((err as Error).message);
  }
  const body = await vizJson<{ rows: AuthzRow[] }>(c.addr, `/api/authz?ref=${encodeURIComponent(what)}&window=${encodeURIComponent(c.window)}`);
  const rows = c.namespace ? body.rows.filter((r) => r.namespace === c.namespace) : body.rows;
  process.stdout.write(renderAuthz(rows, c.output) + '\n');
  return 0;
}
