/**
 * Inbound policy settings: where the policy service is (LINNET_PROXY_POLICY_SVC_ADDR), who this
 * proxy is to it (LINNET_PROXY_POLICY_WORKLOAD), the default policy before its first answer
 * (LINNET_PROXY_INBOUND_DEFAULT_POLICY), the cluster networks of the cluster-* defaults
 * (LINNET_PROXY_POLICY_CLUSTER_NETWORKS) and the ports to watch from start
 * (LINNET_PROXY_INBOUND_PORTS). Authorization is off (no cost at all) when there is no policy
 * service and the default is all-unauthenticated, which allows everything anyway.
 */
import { ConfigError } from '../../../core/errors';
import { parsePortRanges, portSet } from '../../../core/parse';
import { DEFAULT_POLICIES, isDefaultPolicy, type DefaultPolicy } from '../../../core/policy/model';
import { DEFAULT_CLUSTER_NETWORKS, parseNetList, type IpNet } from '../../../core/policy/net';
import { parseDiscoveryEnv } from './discovery';

export interface PolicyConfig {
  readonly enabled: boolean;
  readonly addr: string | undefined;
  readonly workload: string;
  readonly defaultPolicy: DefaultPolicy;
  readonly clusterNetworks: readonly IpNet[];
  readonly ports: readonly number[];
}

export const POLICY_ENV = {
  LINNET_PROXY_POLICY_SVC_ADDR: { default: '', meaning: 'the inbound policy service, HOST:PORT (the control plane\'s :8090); unset: the default policy only' },
  LINNET_PROXY_POLICY_WORKLOAD: { default: '', meaning: 'who this proxy is to the policy service: "<namespace>:<pod>" in Kubernetes, the pod IP in the embedded mode' },
  LINNET_PROXY_INBOUND_DEFAULT_POLICY: {
    default: 'all-unauthenticated',
    meaning: 'the inbound policy before (or without) the policy service\'s answer: all-unauthenticated, all-authenticated, cluster-authenticated, cluster-unauthenticated, deny, audit',
  },
  LINNET_PROXY_POLICY_CLUSTER_NETWORKS: { default: DEFAULT_CLUSTER_NETWORKS, meaning: 'the networks the cluster-* default policies mean (CIDRs, comma-separated)' },
  LINNET_PROXY_INBOUND_PORTS: { default: '', meaning: 'the app\'s inbound ports, whose policy is fetched at start rather than at their first connection' },
} as const;

export function parsePolicyEnv(env: NodeJS.ProcessEnv = process.env): PolicyConfig {
  const get = (k: keyof typeof POLICY_ENV) => {
    const v = env[k];
    return v === undefined || v.trim() === '' ? POLICY_ENV[k].default : v.trim();
  };
  let addr: string | undefined;
  const rawAddr = get('LINNET_PROXY_POLICY_SVC_ADDR');
  if (rawAddr !== '') {
    try {
      addr = parseDiscoveryEnv({ LINNET_PROXY_DESTINATION_SVC_ADDR: rawAddr }).destinationAddr;
    } catch {
      throw new ConfigError('LINNET_PROXY_POLICY_SVC_ADDR', rawAddr, 'HOST:PORT, e.g. linnet-policy.linnet.svc.cluster.local:8090 or 10.0.0.2:8090');
    }
  }
  const workload = get('LINNET_PROXY_POLICY_WORKLOAD');
  const WORKLOAD_FORM = '"<namespace>:<pod>" (Kubernetes) or the pod IP (embedded mode); required with LINNET_PROXY_POLICY_SVC_ADDR';
  if (workload !== '' && !/^[A-Za-z0-9_.:%-]+$/.test(workload)) throw new ConfigError('LINNET_PROXY_POLICY_WORKLOAD', workload, WORKLOAD_FORM);
  if (addr && workload === '') throw new ConfigError('LINNET_PROXY_POLICY_WORKLOAD', workload, WORKLOAD_FORM);
  const dp = get('LINNET_PROXY_INBOUND_DEFAULT_POLICY');
  if (!isDefaultPolicy(dp)) throw new ConfigError('LINNET_PROXY_INBOUND_DEFAULT_POLICY', dp, DEFAULT_POLICIES.join(' | '));
  let clusterNetworks: IpNet[];
  const cn = get('LINNET_PROXY_POLICY_CLUSTER_NETWORKS');
  try {
    clusterNetworks = parseNetList(cn);
  } catch {
    throw new ConfigError('LINNET_PROXY_POLICY_CLUSTER_NETWORKS', cn, 'CIDRs, comma-separated, e.g. 10.0.0.0/8,fd00::/8');
  }
  const portsRaw = get('LINNET_PROXY_INBOUND_PORTS');
  const ports = portsRaw === '' ? [] : [...portSet(parsePortRanges('LINNET_PROXY_INBOUND_PORTS', portsRaw))].sort((a, b) => a - b);
  return Object.freeze({ enabled: addr !== undefined || dp !== 'all-unauthenticated', addr, workload, defaultPolicy: dp, clusterNetworks, ports });
}
