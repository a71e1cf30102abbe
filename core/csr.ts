/**
 * A PKCS#10 certificate signing request (RFC 2986) for an ECDSA P-256 key: subject CN and one
 * DNS subjectAltName, signed ecdsa-with-SHA256. Written out in DER by hand because it is all the
 * proxy needs of X.509 authoring, and the library that does the rest costs a sidecar some 15 MB.
 * The encoder is pure; signing goes through node:crypto.
 */
import { sign, type KeyObject } from 'node:crypto';

// DER (X.690): tag, length (short form below 128, else 0x81/0x82 + bytes), contents.
function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else if (n < 0x100) len = Buffer.from([0x81, n]);
  else if (n < 0x10000) len = Buffer.from([0x82, n >> 8, n & 0xff]);
  else throw new RangeError(`a DER value of ${n} bytes`);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
const OID_COMMON_NAME = OID('550403'); // 2.5.4.3
const OID_EXTENSION_REQUEST = OID('2a864886f70d01090e'); // 1.2.840.113549.1.9.14
const OID_SUBJECT_ALT_NAME = OID('551d11'); // 2.5.29.17
const OID_ECDSA_SHA256 = OID('2a8648ce3d040302'); // 1.2.840.10045.4.3.2

/** The to-be-signed part: version 0, subject CN, the key, and an extensionRequest with the SAN. */
export function certificationRequestInfo(commonName: string, dnsName: string, spkiDer: Buffer): Buffer {
  const subject = tlv(SEQUENCE, tlv(SET, tlv(SEQUENCE, OID_COMMON_NAME, tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  // GeneralName dNSName is [2] IMPLICIT IA5String.
  const san = tlv(SEQUENCE, tlv(0x82, Buffer.from(dnsName, 'ascii')));
  const extensions = tlv(SEQUENCE, tlv(SEQUENCE, OID_SUBJECT_ALT_NAME, tlv(0x04, san)));
  const attributes = tlv(0xa0, tlv(SEQUENCE, OID_EXTENSION_REQUEST, tlv(SET, extensions)));
  return tlv(SEQUENCE, tlv(0x02, Buffer.from([0])), subject, spkiDer, attributes);
}

/** The CSR in DER: CN and dNSName both `name`, signed with `privateKey` (ECDSA P-256). */
export function ecdsaCsr(name: string, privateKey: KeyObject, spkiDer: Buffer): Buffer {
  if (!/^[\x21-\x7e]+$/.test(name)) throw new RangeError(`${JSON.stringify(name)} is not a DNS-like name`);
  const info = certificationRequestInfo(name, name, spkiDer);
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  // BIT STRING: a leading byte of unused bits (0), then the DER ECDSA signature.
  return tlv(SEQUENCE, info, tlv(SEQUENCE, OID_ECDSA_SHA256), tlv(0x03, Buffer.from([0]), signature));
}
