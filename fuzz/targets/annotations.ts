/**
 * Fuzz target for the injector's annotation parsers (control/inject/annotations.ts). One input is
 * one annotation value, given to every parser. Besides "refuse with a typed error", each accepted
 * value must be accepted by the part that consumes it: port lists and subnets by `linnet init`'s
 * flag parsers, durations by the proxy's config parser. A value the injector accepts but the init
 * container refuses would leave the pod stuck in Init:CrashLoopBackOff.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  formatPortList,
  parseDurationText,
  parseImage,
  parseInjectMode,
  parseLogLevel,
  parsePortList,
  parseQuantity,
  parseSubnets,
  parseWorkers,
  type Found,
} from '../../control/inject/annotations';
import { parseCidrList } from '../../init/cidr';
import { parseDuration, parsePortRanges, parsePositiveInt } from '../../core/parse';
import { refusalOrValue, violations, type Fail } from '../target';

export const name = 'annotations';
export const properties = [
  'typed-errors: every parser returns or throws InjectError LINNET_INJECT_BAD_ANNOTATION',
  'ports-in-range: parsed port ranges are 1-65535, lo <= hi, no duplicates',
  'ports-init-agrees: formatted port lists are parsed by linnet init to the same ranges',
  'subnets-init-agrees: accepted subnets are accepted by linnet init --subnets-to-ignore',
  'duration-proxy-agrees: accepted durations are accepted by the proxy config parser',
  'workers-proxy-agrees: accepted worker counts are accepted by the proxy config parser',
  'value-printable: accepted image names, quantities and levels hold no control characters',
];
const fail: Fail = violations(name);
const BAD = ['LINNET_INJECT_BAD_ANNOTATION'];
const NAMED = new Map([
  ['http', 8080],
  ['mysql', 3306],
  ['admin-port', 9000],
]);

export function run(input: Buffer): void {
  const found: Found = { value: input.toString('utf8'), key: 'config.linnet.io/fuzz', from: 'pod' };
  const call = <T>(what: string, f: (x: Found) => T) => refusalOrValue(fail, what, BAD, () => f(found));

  call('parseInjectMode', parseInjectMode);

  const ports = call('parsePortList', (x) => parsePortList(x, NAMED));
  if (ports.ok) {
    const seen = new Set<string>();
    for (const r of ports.value) {
      if (!Number.isInteger(r.lo) || !Number.isInteger(r.hi) || r.lo < 1 || r.hi > 65535 || r.lo > r.hi) fail('ports-in-range', JSON.stringify(r));
      if (seen.has(`${r.lo}-${r.hi}`)) fail('ports-in-range', `duplicate ${JSON.stringify(r)}`);
      seen.add(`${r.lo}-${r.hi}`);
    }
    const text = formatPortList(ports.value);
    const back = refusalOrValue(fail, 'parsePortRanges', [], () => parsePortRanges('--inbound-ports-to-ignore', text));
    if (back.ok && !isDeepStrictEqual(back.value, ports.value)) fail('ports-init-agrees', `${text}: init read ${JSON.stringify(back.value)}`);
    if (!back.ok) fail('ports-init-agrees', `${text}: ${back.error.message}`);
  }

  const subnets = call('parseSubnets', parseSubnets);
  if (subnets.ok && subnets.value.length) {
    const text = subnets.value.join(',');
    const back = refusalOrValue(fail, 'parseCidrList', ['LINNET_CONFIG_INVALID'], () => parseCidrList('--subnets-to-ignore', text));
    if (!back.ok) fail('subnets-init-agrees', `injector accepted ${JSON.stringify(text)}, linnet init refuses it: ${back.error.message}`);
  }

  const duration = call('parseDurationText', parseDurationText);
  if (duration.ok) {
    const back = refusalOrValue(fail, 'parseDuration', ['LINNET_CONFIG_INVALID'], () => parseDuration('LINNET_PROXY_DETECT_TIMEOUT', duration.value));
    if (!back.ok) fail('duration-proxy-agrees', `injector accepted ${JSON.stringify(duration.value)}, the proxy refuses it: ${back.error.message}`);
  }

  const workers = call('parseWorkers', parseWorkers);
  if (workers.ok) {
    const back = refusalOrValue(fail, 'parsePositiveInt', ['LINNET_CONFIG_INVALID'], () => parsePositiveInt('LINNET_PROXY_WORKERS', workers.value, 64));
    if (!back.ok) fail('workers-proxy-agrees', `injector accepted ${JSON.stringify(workers.value)}, the proxy refuses it: ${back.error.message}`);
  }

  for (const [what, f] of [
    ['parseImage', parseImage],
    ['parseQuantity', parseQuantity],
    ['parseLogLevel', parseLogLevel],
  ] as const) {
    const r = call(what, f);
    if (r.ok && /[\x00-\x1f\x7f]/.test(r.value)) fail('value-printable', `${what} accepted ${JSON.stringify(r.value)}`);
  }
}

export const dictionary = [
  ',', '-', ' ', '\t', '\n', '/', ':', '::', '.', '0', '1', '65535', '65536', '4190', 'http', 'mysql', 'admin-port', '10.0.0.0/8',
  '255.255.255.255/32', '::/0', 'fd00::/8', '1:2:3:4:5:6:7:8/128', '::ffff:1.2.3.4/128', '%eth0', 'ms', 's', 'm', 'h', 'Mi', 'Gi', 'e3',
  'enabled', 'disabled', 'ingress', 'debug', '\u00a0', '\u2028', '\x00', '\x7f', '64', '0x10',
];

const target = { name, properties, run, dictionary, maxInputBytes: 4096 };
export default target;
