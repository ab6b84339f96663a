/**
 * How the hooks reach Qdrant's REST port: scheme, port and, with TLS, what makes a server certificate acceptable.
 * The chart renders these from the values that configure Qdrant (config.service.enable_tls, config.service.http_port,
 * config.tls.ca_cert); see docs/operations.md#tls-and-custom-ports.
 *
 * A pod is dialled by its IP, but a server certificate usually names DNS names (the headless Service's
 * `<pod>.<service>.<namespace>.svc...` or a wildcard of it), not the IP. The chain is verified against the CA as
 * usual; the name check then accepts the pod IP, or a DNS name whose first label is the pod's name or `*` and that
 * lies under `<namespace>.svc`: a certificate the CA issued for this pod or for the namespace's Qdrant service.
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { usageError } from '../errors.js';
import type { QdrantReach } from './types.js';

export type { QdrantReach };

export const DEFAULT_REACH: QdrantReach = { scheme: 'http', port: 6333 };

/** Builds the reach from the CLI flags; reads the CA file now so a wrong path is a usage error (exit 2). */
export function reachFromFlags(flags: { scheme?: string; port?: number; caFile?: string; insecureSkipVerify?: boolean }): QdrantReach {
  const scheme = flags.scheme ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') throw usageError(`--qdrant-scheme must be http or https, got ${scheme}`);
  const port = flags.port ?? 6333;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError(`--qdrant-port must be a port number (1-65535), got ${String(flags.port)}`);
  const reach: QdrantReach = { scheme, port };
  if (flags.insecureSkipVerify) reach.insecureSkipVerify = true;
  if (flags.caFile) {
    if (scheme !== 'https') throw usageError('--qdrant-ca-file needs --qdrant-scheme https');
    try {
      reach.ca = readFileSync(flags.caFile, 'utf8');
    } catch (err) {
      throw usageError(
        `cannot read the CA file ${flags.caFile} (--qdrant-ca-file): ${(err as Error).message}`,
        'In the chart the file is config.tls.ca_cert, mounted from the additionalVolumes entry that holds it; ' +
          'check the Secret and the mount (docs/operations.md#tls-and-custom-ports).',
      );
    }
    reach.caFile = flags.caFile;
  }
  return reach;
}

/** The warning every report carries while verification is off; undefined when it is on. */
export function insecureNotice(reach: QdrantReach): string | undefined {
  if (reach.scheme !== 'https' || !reach.insecureSkipVerify) return undefined;
  return "Qdrant's TLS certificates were NOT verified (--qdrant-insecure-skip-verify, chart value upgradeGuard.qdrantTls.insecureSkipVerify)";
}

/** The name check described in the header; returns an Error as tls.checkServerIdentity does, or undefined. */
export function checkPodIdentity(ip: string, pod: string, namespace: string | undefined, cert: PeerCertificate): Error | undefined {
  const byIp = checkServerIdentity(ip, cert);
  if (!byIp) return undefined;
  const names = (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  const under = namespace ? `.${namespace.toLowerCase()}.svc` : '.svc';
  const ok = names.some((n) => {
    const first = n.split('.')[0];
    const rest = n.slice((first ?? '').length);
    return (first === pod.toLowerCase() || first === '*') && (rest.includes(`${under}.`) || rest.endsWith(under));
  });
  if (ok) return undefined;
  const err = new Error(
    `the certificate names ${names.length ? names.join(', ') : 'no DNS name'}${cert.subjectaltname?.includes('IP Address:') ? ` and ${cert.subjectaltname}` : ''}: ` +
      `neither the pod IP ${ip} nor a name of pod ${pod} under ${under.slice(1)}`,
  ) as Error & { code: string };
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}

export interface RawHttpsResponse {
  status: number;
  contentType: string;
  text: string;
}

/**
 * One GET over HTTPS with the reach's trust settings. Rejects with the socket/TLS error (its `code` kept), or an
 * AbortError/TimeoutError from the signal.
 */
export function httpsGet(
  url: string,
  options: { reach: QdrantReach; pod: string; headers: Record<string, string>; signal: AbortSignal; maxBytes?: number },
): Promise<RawHttpsResponse> {
  const u = new URL(url);
  const ip = u.hostname.replace(/^\[|\]$/g, '');
  const { reach } = options;
  const limit = options.maxBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method: 'GET',
        host: ip,
        port: Number(u.port || 443),
        path: `${u.pathname}${u.search}`,
        headers: options.headers,
        signal: options.signal,
        agent: false,
        ...(reach.ca ? { ca: reach.ca } : {}),
        rejectUnauthorized: !reach.insecureSkipVerify,
        checkServerIdentity: (_host: string, cert: PeerCertificate) => checkPodIdentity(ip, options.pod, reach.namespace, cert),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            req.destroy(new Error(`response larger than ${limit} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** TLS failure codes from Node/OpenSSL that mean "the certificate was not accepted". */
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isCertificateError(code: string | undefined): boolean {
  return code !== undefined && CERT_CODES.has(code);
}

/** `EPROTO` with "wrong version number": an HTTPS client met a plain-HTTP port. */
export function isPlainHttpPort(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${String((err as { reason?: unknown }).reason ?? '')}` : String(err);
  return /wrong version number|packet length too long|http request/i.test(text);
}
