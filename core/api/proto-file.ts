/**
 * Where a `.proto` file of the contract is at run time. The files stay in the source tree
 * (core/api/); compiled code runs from dist/core/api, so they are looked for beside this module
 * (run from source) and back in the package's core/api (run from dist/).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LinnetError } from '../errors';

export function protoFile(name: string, dir: string = __dirname): string {
  const candidates = [join(dir, name), join(dir, '..', '..', '..', 'core', 'api', name)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new LinnetError('LINNET_PROTO_MISSING', `${name} not found (looked in ${candidates.join(', ')})`, {
      hint: 'run from a checkout or image that contains core/api/',
    });
  }
  return found;
}
