/**
 * `linnet init` flags → a typed, frozen InitOptions. Pure. The flag names and defaults are
 * linkerd2-proxy-init's, so an injector written for Linkerd can drive this init step unchanged.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/errors';
import { parseEnum, parsePort, parsePortRanges, type PortRange } from '../core/parse';
import { parseCidrList, type Cidr } from './cidr';
import { InitError } from './errors';

export type IptablesMode = 'nft' | 'legacy';
export const IPTABLES_MODES: readonly IptablesMode[] = ['nft', 'legacy'];

export interface InitOptions {
  incomingProxyPort: number;
  outgoingProxyPort: number;
  proxyUid: number;
  /** Absent: no group exemption (as linkerd2-proxy-init without --proxy-gid). */
  proxyGid: number | undefined;
  /** Always starts with 4190,4191 (tap/control and admin must reach the proxy directly). */
  inboundPortsToIgnore: readonly PortRange[];
  outboundPortsToIgnore: readonly PortRange[];
  subnetsToIgnore: readonly Cidr[];
  ipv6: boolean;
  mode: IptablesMode;
  dryRun: boolean;
  cleanup: boolean;
}

/** Inbound ports that never go through the inbound proxy: 4190 (tap/control), 4191 (admin). */
export const ALWAYS_IGNORED_INBOUND: readonly PortRange[] = [
  { lo: 4190, hi: 4190 },
  { lo: 4191, hi: 4191 },
];

export const DEFAULTS = {
  incomingProxyPort: 4143,
  outgoingProxyPort: 4140,
  proxyUid: 2102,
  mode: 'legacy' as IptablesMode,
};

export const USAGE = `usage: linnet init [flags]

Sets up the pod's iptables (nat table) so that inbound TCP goes to the proxy's inbound port and
outbound TCP to its outbound port, as linkerd2-proxy-init does. Needs root or NET_ADMIN in the
pod's network namespace. Applying twice leaves one copy of every rule; --cleanup removes them.

Chains: PROXY_INIT_REDIRECT (jumped to from PREROUTING) and PROXY_INIT_OUTPUT (from OUTPUT).
Every rule carries a comment "proxy-init/<name>".

flags:
  --incoming-proxy-port PORT      inbound traffic is redirected here (default ${DEFAULTS.incomingProxyPort})
  --outgoing-proxy-port PORT      outbound traffic is redirected here (default ${DEFAULTS.outgoingProxyPort})
  --proxy-uid UID                 traffic from this user is not redirected: the proxy's own
                                  connections (default ${DEFAULTS.proxyUid})
  --proxy-gid GID                 also exempt traffic from this group (default: none)
  --inbound-ports-to-ignore LIST  inbound ports or ranges that bypass the proxy, e.g. 22,8000-8100;
                                  4190,4191 are always added
  --outbound-ports-to-ignore LIST outbound ports or ranges that bypass the proxy, e.g. 25,3306
  --subnets-to-ignore LIST        outbound destinations (CIDRs) that bypass the proxy,
                                  e.g. 10.96.0.0/12,fd00::/8 (IPv6 ones need --ipv6)
  --ipv6                          also set up ip6tables (default: IPv4 only)
  --iptables-mode nft|legacy      which iptables backend to use: iptables-nft-* or
                                  iptables-legacy-* (default ${DEFAULTS.mode}, as Linkerd)
  --dry-run                       print the iptables-restore input that would be applied and
                                  change nothing
  --cleanup                       remove every rule and chain this command adds, leave the rest
  -h, --help                      this text

Port lists are comma-separated ports or lo-hi ranges (1-65535). Exit status: 0 done, 1 error.
`;

/** A user or group id: 0 .. 2^32-2 (2^32-1 is the kernel's "no id"). */
export function parseId(variable: string, text: string): number {
  const t = text.trim();
  const form = 'a numeric id from 0 to 4294967294';
  if (!/^\d{1,10}$/.test(t) || Number(t) > 4294967294) throw new ConfigError(variable, text, form);
  return Number(t);
}

function sameRange(a: PortRange, b: PortRange): boolean {
  return a.lo === b.lo && a.hi === b.hi;
}

export function parseInitArgs(args: readonly string[]): Readonly<InitOptions> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        'incoming-proxy-port': { type: 'string' },
        'outgoing-proxy-port': { type: 'string' },
        'proxy-uid': { type: 'string' },
        'proxy-gid': { type: 'string' },
        'inbound-ports-to-ignore': { type: 'string' },
        'outbound-ports-to-ignore': { type: 'string' },
        'subnets-to-ignore': { type: 'string' },
        ipv6: { type: 'boolean' },
        'iptables-mode': { type: 'string' },
        'dry-run': { type: 'boolean' },
        cleanup: { type: 'boolean' },
      },
    }));
  } catch (err) {
    // parseArgs throws TypeErrors (unknown flag, missing value, stray argument).
    throw new InitError('LINNET_INIT_USAGE', (err as Error).message, 'run `linnet init --help` for the flags', err);
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const opt = <T>(k: string, parse: (flag: string, text: string) => T, dflt: T): T => {
    const v = str(k);
    return v === undefined ? dflt : parse(`--${k}`, v);
  };

  const userInbound = parsePortRanges('--inbound-ports-to-ignore', str('inbound-ports-to-ignore') ?? '');
  const subnets = parseCidrList('--subnets-to-ignore', str('subnets-to-ignore') ?? '');
  const ipv6 = values['ipv6'] === true;
  const v6Subnet = subnets.find((s) => s.family === 6);
  if (v6Subnet && !ipv6) {
    throw new ConfigError(
      '--subnets-to-ignore',
      str('subnets-to-ignore')!,
      'IPv4 networks only, unless --ipv6 is given (an IPv6 network would otherwise be silently unused)',
    );
  }

  return Object.freeze({
    incomingProxyPort: opt('incoming-proxy-port', parsePort, DEFAULTS.incomingProxyPort),
    outgoingProxyPort: opt('outgoing-proxy-port', parsePort, DEFAULTS.outgoingProxyPort),
    proxyUid: opt('proxy-uid', parseId, DEFAULTS.proxyUid),
    proxyGid: opt<number | undefined>('proxy-gid', parseId, undefined),
    inboundPortsToIgnore: Object.freeze([
      ...ALWAYS_IGNORED_INBOUND,
      ...userInbound.filter((r) => !ALWAYS_IGNORED_INBOUND.some((a) => sameRange(a, r))),
    ]),
    outboundPortsToIgnore: Object.freeze(parsePortRanges('--outbound-ports-to-ignore', str('outbound-ports-to-ignore') ?? '')),
    subnetsToIgnore: Object.freeze(subnets),
    ipv6,
    mode: opt('iptables-mode', (f, t) => parseEnum(f, t, IPTABLES_MODES), DEFAULTS.mode),
    dryRun: values['dry-run'] === true,
    cleanup: values['cleanup'] === true,
  });
}
