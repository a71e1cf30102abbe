/**
 * X.509 for the control plane's CA: @peculiar/x509 (ECDSA and RSA certificates and CSRs, which
 * node-forge cannot make) set up once on Node's WebCrypto. The proxy does not load it (it costs a
 * sidecar some 15 MB): it makes its CSR with core/csr.ts and reads PEM with core/pem.ts.
 */
import 'reflect-metadata'; // @peculiar/x509 uses tsyringe, which needs the Reflect polyfill
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export { derToPem, pemCertificates } from './pem';
