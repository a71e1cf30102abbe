/**
 * Fuzz target for identity names (control/identity/names.ts): what a proxy asks to be certified
 * as. One input is a requested name (UTF-8).
 */
import { identityName, parseIdentityName } from '../../control/identity/names';
import { refusalOrValue, violations, type Fail } from '../target';

export const name = 'identity-name';
export const properties = [
  'typed-errors: parseIdentityName returns or throws IdentityError LINNET_IDENTITY_NAME_INVALID',
  'round-trip: an accepted name is exactly identityName(parts) of what it parsed to',
  'dns-safe: an accepted name is lower-case DNS text (a-z, 0-9, "-", ".") of at most 253 characters, labels at most 63',
];
const fail: Fail = violations(name);

export function run(input: Buffer): void {
  const text = input.toString('utf8');
  for (const [ns, td] of [
    ['linnet', 'cluster.local'],
    ['linkerd', 'example.org'],
  ] as const) {
    const r = refusalOrValue(fail, 'parseIdentityName', ['LINNET_IDENTITY_NAME_INVALID'], () => parseIdentityName(text, ns, td));
    if (!r.ok) continue;
    const back = identityName(r.value, ns, td);
    if (back !== text) fail('round-trip', `${JSON.stringify(text)} -> ${JSON.stringify(r.value)} -> ${JSON.stringify(back)}`);
    if (!/^[a-z0-9.-]+$/.test(text) || text.length > 253 || text.split('.').some((l) => l.length === 0 || l.length > 63)) {
      fail('dns-safe', JSON.stringify(text));
    }
  }
}

export const dictionary = ['.', '-', 'serviceaccount', 'identity', 'linnet', 'cluster.local', '.serviceaccount.identity.linnet.cluster.local', 'A', '\u0130', '\u212a', 'x'.repeat(63), '..'];

const target = { name, properties, run, dictionary, maxInputBytes: 1024 };
export default target;
