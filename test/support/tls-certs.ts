// Test PKI made on the spot with openssl: a CA and server certificates with chosen subject alternative names.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestPki {
  dir: string;
  caFile: string;
  /** Issues a server certificate signed by this CA; returns its cert and key paths. */
  issue(name: string, sans: string[]): { cert: string; key: string };
  dispose(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makePki(prefix = 'guard-tls-'): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=guard-test-ca'], dir);
  return {
    dir,
    caFile: path.join(dir, 'ca.crt'),
    issue(name, sans) {
      fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${sans.join(',')}\n`);
      openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
      return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
    },
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
