/**
 * The layer rules, checked by `npm test` (test/unit/dependency-rules.test.ts) with
 * dependency-cruiser over the TypeScript sources, type-only imports included: a circle of types
 * is a circle all the same. The picture these rules keep true is in the README's Layout section.
 *
 *   core/     the floor: errors, log, parsers, the command type, backoff, the API contract
 *   proxy/    runtime → inbound, outbound → accept, protocol → transport, metrics → core
 *   control/  the control plane and the local mesh runner; init/ the iptables step
 *   bench/, fuzz/ beside them; test/ may import anything, and nothing imports test/
 */
const PARTS = '^(proxy|control|init|bench|fuzz|test)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: modules that need each other are one module, or one of them holds what both need.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-the-floor',
      severity: 'error',
      comment: 'core/ imports nothing of the parts above it (the CLI entry excepted, see core-cli-loads-commands).',
      from: { path: '^core/', pathNot: '^core/cli\\.ts$' },
      to: { path: PARTS },
    },
    {
      name: 'core-cli-loads-commands',
      severity: 'error',
      comment: "The CLI entry loads each part's command module, and nothing else of theirs.",
      from: { path: '^core/cli\\.ts$' },
      to: { path: PARTS, pathNot: '(^|/)[a-z-]*command\\.ts$' },
    },
    {
      name: 'nothing-imports-test',
      severity: 'error',
      comment: 'Test support lives in test/; production code, the bench and the fuzzers never load it.',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
    {
      name: 'proxy-is-its-own',
      severity: 'error',
      comment: 'The proxy runs alone in its image: it imports core/, never the control plane, init, the bench or the fuzzers.',
      from: { path: '^proxy/' },
      to: { path: '^(control|init|bench|fuzz)/' },
    },
    {
      name: 'control-and-init-do-not-import-the-proxy',
      severity: 'error',
      comment: 'The control plane and init talk to the proxy over the API contract (core/api) and as a process, not through its modules.',
      from: { path: '^(control|init)/' },
      to: { path: '^(proxy|bench|fuzz)/' },
    },
    {
      name: 'init-stands-alone',
      severity: 'error',
      comment: 'The init container runs `linnet init` only: init/ imports core/ and nothing else of ours.',
      from: { path: '^init/' },
      to: { path: '^control/' },
    },
    {
      name: 'accept-knows-no-protocol',
      severity: 'error',
      comment: 'accept/ hands a connection to a protocol from a table its stack gives it; it never imports one.',
      from: { path: '^proxy/accept/' },
      to: { path: '^proxy/(protocol|inbound|outbound|runtime|identity)/' },
    },
    {
      name: 'protocol-speaks-only-the-wire',
      severity: 'error',
      comment: 'protocol/ servers and clients report a request through protocol/call.ts; routing and metrics are the stacks\' (inbound/, outbound/).',
      from: { path: '^proxy/protocol/' },
      to: { path: '^proxy/(inbound|outbound|runtime|accept|metrics|identity)/' },
    },
    {
      name: 'transport-is-the-bottom',
      severity: 'error',
      comment: 'transport/ (native addon, TCP, TLS, dial, relay) imports only itself and core/.',
      from: { path: '^proxy/transport/' },
      to: { path: '^proxy/(?!transport/)' },
    },
    {
      name: 'metrics-below-the-stacks',
      severity: 'error',
      comment: 'metrics/ records what the stacks tell it; it imports no stack, listener or runtime.',
      from: { path: '^proxy/metrics/' },
      to: { path: '^proxy/(inbound|outbound|accept|runtime|identity|transport)/' },
    },
    {
      name: 'inbound-and-outbound-apart',
      severity: 'error',
      comment: 'The two stacks share accept/, protocol/, transport/ and metrics/, not each other.',
      from: { path: '^proxy/inbound/' },
      to: { path: '^proxy/outbound/' },
    },
    {
      name: 'outbound-and-inbound-apart',
      severity: 'error',
      comment: 'The two stacks share accept/, protocol/, transport/ and metrics/, not each other.',
      from: { path: '^proxy/outbound/' },
      to: { path: '^proxy/inbound/' },
    },
    {
      name: 'proxy-metrics-without-prom-client',
      severity: 'error',
      comment: "The proxy keeps its metrics in proxy/metrics/registry.ts: prom-client and the OpenTelemetry API it loads were 11 MB of an idle sidecar. Its tests may use it as a reference.",
      from: { path: '^proxy/', pathNot: '\\.test\\.ts$' },
      to: { path: '(^|/)node_modules/prom-client/|^prom-client$' },
    },
    {
      name: 'runtime-on-top',
      severity: 'error',
      comment: 'runtime/ (process, workers, admin, configuration) builds the stacks; nothing below it imports it.',
      from: { path: '^proxy/', pathNot: '^proxy/(runtime/|command\\.ts$)' },
      to: { path: '^proxy/runtime/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
