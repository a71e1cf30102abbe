/**
 * Writes the generated part of the seed corpora (run once; the output is committed):
 * `node dist/fuzz/make-seeds.js`. Hand-written seeds sit beside them in fuzz/corpus/<target>/.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClientHello } from '../proxy/accept/detect/client-hello';
import { corpusDir, repoRoot } from './corpus';
import { makeCsrSeeds } from './targets/certify-csr';

function put(target: string, file: string, bytes: Buffer | string): void {
  mkdirSync(corpusDir(target), { recursive: true });
  writeFileSync(join(corpusDir(target), file), bytes);
}

/** Handshake messages out of the detect corpus's captured ClientHellos (record framing removed). */
function clientHellos(): void {
  for (const f of readdirSync(corpusDir('detect')).filter((n) => n.startsWith('tls-'))) {
    const stream = readFileSync(join(corpusDir('detect'), f));
    if (parseClientHello(stream).status !== 'ok') continue;
    const parts: Buffer[] = [];
    for (let pos = 0; pos + 5 <= stream.length && stream[pos] === 0x16; ) {
      const len = stream.readUInt16BE(pos + 3);
      parts.push(stream.subarray(pos + 5, pos + 5 + len));
      pos += 5 + len;
    }
    const all = Buffer.concat(parts);
    const msgLen = 4 + ((all[1]! << 16) | (all[2]! << 8) | all[3]!);
    put('client-hello', f.replace(/\.bin$/, '.msg'), all.subarray(0, msgLen));
  }
}

function admissionReviews(): void {
  const pod = (annotations: Record<string, string>, extra: Record<string, unknown> = {}) => ({
    metadata: { name: 'web-5d8f-abcde', namespace: 'demo', annotations, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-5d8f', controller: true }] },
    spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }, { name: 'mysql', containerPort: 3306 }] }], ...extra },
  });
  const review = (apiVersion: string, object: unknown, ns = 'demo', operation = 'CREATE') => ({
    apiVersion,
    kind: 'AdmissionReview',
    request: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: ns, operation, object },
  });
  const seeds: Record<string, unknown> = {
    'v1-opt-in.json': review('admission.k8s.io/v1', pod({ 'linnet.io/inject': 'enabled' })),
    'v1beta1-linkerd-alias.json': review('admission.k8s.io/v1beta1', pod({ 'linkerd.io/inject': 'enabled', 'config.linkerd.io/skip-outbound-ports': '3306' })),
    'v1-namespace-opt-in.json': review('admission.k8s.io/v1', pod({}), 'meshed'),
    'v1-namespace-broken.json': review('admission.k8s.io/v1', pod({ 'linnet.io/inject': 'enabled' }), 'broken'),
    'v1-settings.json': review('admission.k8s.io/v1', pod({ 'linnet.io/inject': 'ingress', 'config.linnet.io/skip-subnets': '10.0.0.0/8,fd00::/8', 'config.linnet.io/opaque-ports': 'mysql,8000-8100', 'config.linnet.io/proxy-workers': '2', 'config.linnet.io/proxy-detect-timeout': '1s' })),
    'v1-disabled.json': review('admission.k8s.io/v1', pod({ 'linnet.io/inject': 'disabled' }), 'meshed'),
    'v1-hostnetwork.json': review('admission.k8s.io/v1', pod({ 'linnet.io/inject': 'enabled' }, { hostNetwork: true })),
    'v1-update.json': review('admission.k8s.io/v1', pod({ 'linnet.io/inject': 'enabled' }), 'demo', 'UPDATE'),
    'not-a-review.json': { kind: 'Pod', apiVersion: 'v1' },
  };
  for (const [f, v] of Object.entries(seeds)) put('admission-review', f, JSON.stringify(v));
}

async function main(): Promise<void> {
  clientHellos();
  admissionReviews();
  for (const [f, der] of Object.entries(await makeCsrSeeds())) put('certify-csr', f, der);
  const inDir = join(repoRoot(), 'control', 'inject', 'testdata', 'in');
  for (const f of readdirSync(inDir)) put('inject-transform', f, readFileSync(join(inDir, f)));
}

void main();
