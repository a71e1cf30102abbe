import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshFile, MeshFileError } from './mesh-file';

function problems(text: string): string[] {
  try {
    parseMeshFile(text, 'mesh.yaml');
  } catch (err) {
    assert.ok(err instanceof MeshFileError);
    assert.equal(err.code, 'LINNET_MESH_FILE_INVALID');
    assert.ok(err.hint);
    return [...err.problems];
  }
  assert.fail('expected MeshFileError');
}

describe('parseMeshFile', () => {
  it('reads the DESIGN.md example shape', () => {
    const s = parseMeshFile(`
services:
  - name: Web.Demo.svc.cluster.local.
    address: 10.96.0.10
    ports: [80]
    opaquePorts: [6379]
    endpoints:
      - address: 10.77.0.12:8080
        identity: web.demo.serviceaccount.identity.linnet.cluster.local
        labels: { pod: web-0 }
      - address: "[fd00::1]:8080"
        weight: 5
      - address: 10.77.0.13
workloads:
  - identity: web.demo.serviceaccount.identity.linnet.cluster.local
    token: "0123456789"
`);
    const web = s.services[0]!;
    assert.equal(web.name, 'web.demo.svc.cluster.local');
    assert.deepEqual(web.addresses, ['10.96.0.10']);
    assert.deepEqual(web.ports, [80]);
    assert.deepEqual([...web.opaquePorts], [6379]);
    assert.deepEqual(web.endpoints.map((e) => [e.ip, e.port, e.weight]), [
      ['10.77.0.12', 8080, 10000],
      ['fd00::1', 8080, 5],
      ['10.77.0.13', undefined, 10000],
    ]);
    assert.equal(web.endpoints[0]!.identity, 'web.demo.serviceaccount.identity.linnet.cluster.local');
    // The file's labels, and the service account its identity names (dst_serviceaccount).
    assert.deepEqual(web.endpoints[0]!.labels, { serviceaccount: 'web', pod: 'web-0' });
    // A Kubernetes-style service name gives the set its service and namespace (dst_service, dst_namespace).
    assert.deepEqual(web.labels, { service: 'web', namespace: 'demo' });
    assert.equal(s.workloads.length, 1);
  });

  it('accepts an empty file and opaquePorts in annotation form', () => {
    assert.deepEqual(parseMeshFile(''), { services: [], workloads: [] });
    const s = parseMeshFile('services:\n  - name: a.b\n    opaquePorts: "25, 8000-8002"\n');
    assert.deepEqual([...s.services[0]!.opaquePorts].sort((a, b) => a - b), [25, 8000, 8001, 8002]);
  });

  it('names the path of every problem', () => {
    const p = problems(`
services:
  - name: web.demo.svc.cluster.local
    address: 10.96.0.300
    ports: [80, 70000, "x"]
    endpoints:
      - address: 10.77.0.12:99999
      - address: 10.77.0.13:8080
        identity: "Not An Identity"
        weight: 0
        labels: { "bad-key": x, ok: [1] }
      - address: 10.77.0.13:8080
  - name: web.demo.svc.cluster.local
    address: 10.96.0.11
  - name: other.demo
    address: 10.96.0.11
    colour: blue
workloads:
  - identity: web.demo.serviceaccount.identity.linnet.cluster.local
    token: short
  - token: "long-enough-token"
extra: 1
`);
    const expect = [
      /^services\[0\]\.address: "10\.96\.0\.300" is not an IP address/,
      /^services\[0\]\.ports\[1\]: 70000 is not a port/,
      /^services\[0\]\.ports\[2\]: "x" is not a port/,
      /^services\[0\]\.endpoints\[0\]\.address: "10\.77\.0\.12:99999" is not ip:port/,
      /^services\[0\]\.endpoints\[1\]\.weight: 0 is not a whole number/,
      /^services\[0\]\.endpoints\[1\]\.identity: "Not An Identity" is not an identity/,
      /^services\[0\]\.endpoints\[1\]\.labels\.bad-key: label names are/,
      /^services\[0\]\.endpoints\[1\]\.labels\.ok: expected a string value/,
      /^services\[0\]\.endpoints\[2\]\.address: 10\.77\.0\.13:8080 is listed twice/,
      /^services\[1\]\.name: web\.demo\.svc\.cluster\.local is already the name of services\[0\]/,
      /^services\[2\]\.colour: unknown field/,
      /^services\[2\]\.address: 10\.96\.0\.11 is already the address of services\[1\]/,
      /^workloads\[0\]\.token: expected a string of at least 8 characters/,
      /^workloads\[1\]\.identity: missing/,
      /^extra: unknown field/,
    ];
    for (const re of expect) assert.ok(p.some((x) => re.test(x)), `${re} in:\n${p.join('\n')}`);
    assert.equal(p.length, expect.length, p.join('\n'));
  });

  it('reports YAML syntax errors and a non-mapping top level', () => {
    assert.match(problems('services: [\n')[0]!, /^YAML: /);
    assert.match(problems('- just\n- a list\n')[0]!, /top level/);
    assert.match(problems('services: 3\n')[0]!, /^services: expected a list/);
    assert.match(problems('services:\n  - name: a\n  - name: a\n')[0]!, /services\[1\]\.name: a is already/);
    assert.match(problems('services: []\nservices: []\n')[0]!, /^YAML: /);
  });

  it('the error message lists the problems and the file', () => {
    try {
      parseMeshFile('services:\n  - name: ""\n', '/etc/linnet/mesh.yaml');
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof MeshFileError);
      assert.match(err.describe(), /^LINNET_MESH_FILE_INVALID: \/etc\/linnet\/mesh\.yaml is not a valid mesh file:\n  services\[0\]\.name: "" is not an authority name/);
    }
  });
  it('service ports may be { port, appProtocol }: linkerd.io/opaque and unknown values are opaque', () => {
    const s = parseMeshFile(`
services:
  - name: mail.demo.svc.cluster.local
    ports: [{ port: 2525, appProtocol: linkerd.io/opaque }, { port: 80, appProtocol: http }, { port: 5000, appProtocol: mysql }, 8080]
    endpoints: [{ address: 10.0.0.5 }]
`);
    assert.deepEqual(s.services[0]!.ports, [2525, 80, 5000, 8080]);
    assert.deepEqual([...s.services[0]!.opaquePorts].sort((a, b) => a - b), [2525, 5000]);
    assert.deepEqual([...(s.services[0]!.httpPorts ?? new Map())], [[80, 'http1']]);
    assert.deepEqual(problems(`
services:
  - name: mail.demo.svc.cluster.local
    ports: [{ port: 2525, appProtocol: 7, proto: x }]
`), ['services[0].ports[0].proto: unknown field (allowed: port, appProtocol, name)', 'services[0].ports[0].appProtocol: 7 is not a string (e.g. linkerd.io/opaque)']);
  });
});
