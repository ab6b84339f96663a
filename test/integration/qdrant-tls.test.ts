/**
 * How the hooks reach Qdrant when the chart configured TLS, another REST port or API keys: the real HttpQdrantApi
 * against the Qdrant emulator (a test double) run as a process, the way the kubelet stand-in runs it, serving HTTPS
 * with a certificate from a CA made in this test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { HttpQdrantApi } from '../../hook/qdrant/http-api.js';
import { reachFromFlags, insecureNotice, type QdrantReach } from '../../hook/qdrant/tls.js';
import { endpointOf } from '../../hook/commands/cluster.js';
import type { PodSnapshot } from '../../hook/kube/types.js';
import { makePki, type TestPki } from '../support/tls-certs.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repoRoot, 'test/support/qdrant-emulator/bin.mjs');
const IP = '127.3.31.7';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, IP, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function pod(name: string): PodSnapshot {
  return {
    name, uid: 'u', ordinal: Number(name.split('-').pop()), ip: IP, nodeName: 'n', phase: 'Running', ready: true, revision: 'r',
    labels: {}, images: {}, restarts: 0, containers: [], initContainers: [],
  };
}

interface Started {
  child: ChildProcess;
  port: number;
  out: string[];
}

async function startEmulator(env: Record<string, string>, args: string[], cwd: string): Promise<Started> {
  const port = await freePort();
  const p2p = await freePort();
  const out: string[] = [];
  const child = spawn(process.execPath, [bin, '--host', IP, '--port', String(port), '--p2p-port', String(p2p), '--storage', path.join(cwd, 'storage'),
    '--version', '1.13.5', '--uri', `http://${IP}:${p2p}`, ...args], {
    cwd,
    env: { ...process.env, QDRANT__CLUSTER__ENABLED: 'true', QDRANT_EMULATOR_TIMING: 'pollMs=50,electionTimeoutMs=300', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (out.join('').includes('TLS enabled on the REST port') || (!args.includes('--tls-cert') && out.join('').includes('HTTP listening'))) break;
    if (child.exitCode !== null) throw new Error(`emulator exited ${child.exitCode}: ${out.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, out };
}

describe('hooks reach Qdrant the way the chart configured it: TLS, port, API keys', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let root: string;
  const started: ChildProcess[] = [];

  before(() => {
    pki = makePki();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-tls-emu-'));
  });
  after(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    pki.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  });

  async function tlsPeer(name: string, sans: string[], env: Record<string, string> = {}): Promise<Started> {
    const { cert, key } = pki.issue(name, sans);
    const dir = path.join(root, name);
    fs.mkdirSync(dir, { recursive: true });
    const s = await startEmulator(env, ['--tls-cert', cert, '--tls-key', key], dir);
    started.push(s.child);
    return s;
  }

  const api = (reach: QdrantReach, keys: { apiKey?: string; readOnlyApiKey?: string } = {}) =>
    new HttpQdrantApi({ timeoutMs: 3000, reach: { ...reach, namespace: 'qdrant' }, ...keys });

  describe('HTTPS with a CA made in the test, on a non-default port', () => {
    let peer: Started;
    before(async () => {
      peer = await tlsPeer('qdrant-0', ['DNS:qdrant-0.qdrant-headless.qdrant.svc.cluster.local', 'DNS:qdrant-0.qdrant-headless.qdrant.svc']);
    });

    it('builds https://<pod IP>:<configured port> and observes the peer through the CA', async () => {
      const reach = reachFromFlags({ scheme: 'https', port: peer.port, caFile: pki.caFile });
      const ep = endpointOf(pod('qdrant-0'), reach);
      expect(ep.url).to.equal(`https://${IP}:${peer.port}`);
      const obs = await api(reach).observe(ep);
      expect(obs.error).to.equal(undefined);
      expect(obs.reachable).to.equal(true);
      expect(obs.version?.version).to.equal('1.13.5');
      expect(obs.cluster?.status).to.equal('enabled');
      expect(insecureNotice(reach)).to.equal(undefined);
    });

    it('refuses the certificate without the CA (system store) and says where the CA comes from', async () => {
      const reach = reachFromFlags({ scheme: 'https', port: peer.port });
      const obs = await api(reach).observe(endpointOf(pod('qdrant-0'), reach));
      expect(obs.reachable).to.equal(false);
      expect(obs.error).to.match(/presented a certificate that was not accepted: GET \/: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
      const err = await api(reach).version(endpointOf(pod('qdrant-0'), reach)).catch((e: { remedy: string }) => e);
      expect((err as { remedy: string }).remedy).to.contain('the system trust store (config.tls.ca_cert is not set)');
    });

    it('refuses a certificate the CA issued for another pod', async () => {
      const reach = reachFromFlags({ scheme: 'https', port: peer.port, caFile: pki.caFile });
      const obs = await api(reach).observe(endpointOf(pod('qdrant-1'), reach));
      expect(obs.reachable).to.equal(false);
      expect(obs.error).to.contain('ERR_TLS_CERT_ALTNAME_INVALID');
      expect(obs.error).to.contain('neither the pod IP 127.3.31.7 nor a name of pod qdrant-1 under qdrant.svc');
    });

    it('with verification skipped, answers and says so', async () => {
      const reach = reachFromFlags({ scheme: 'https', port: peer.port, insecureSkipVerify: true });
      const obs = await api(reach).observe(endpointOf(pod('qdrant-1'), reach));
      expect(obs.reachable).to.equal(true);
      expect(insecureNotice(reach)).to.match(/NOT verified/);
    });

    it('plain HTTP against the TLS port is unreachable, not a verdict about Qdrant', async () => {
      const reach = reachFromFlags({ scheme: 'http', port: peer.port });
      const obs = await api(reach).observe(endpointOf(pod('qdrant-0'), reach));
      expect(obs.reachable).to.equal(false);
    });

    it('a CA file that cannot be read is a usage error naming the flag', () => {
      expect(() => reachFromFlags({ scheme: 'https', port: 6333, caFile: path.join(root, 'nope.crt') })).to.throw(/--qdrant-ca-file/);
      expect(() => reachFromFlags({ scheme: 'http', port: 6333, caFile: pki.caFile })).to.throw(/needs --qdrant-scheme https/);
      expect(() => reachFromFlags({ scheme: 'http', port: 70000 })).to.throw(/--qdrant-port/);
    });
  });

  describe('API keys: every call the hooks make is allowed with the read-only key', () => {
    let peer: Started;
    before(async () => {
      peer = await tlsPeer('qdrant-2', ['DNS:*.qdrant-headless.qdrant.svc.cluster.local'], {
        QDRANT__SERVICE__API_KEY: 'rw-secret-key',
        QDRANT__SERVICE__READ_ONLY_API_KEY: 'ro-secret-key',
      });
    });
    const reach = () => reachFromFlags({ scheme: 'https', port: peer.port, caFile: pki.caFile });

    it('observes everything with only the read-only key (a wildcard certificate of the headless Service)', async () => {
      const obs = await api(reach(), { readOnlyApiKey: 'ro-secret-key' }).observe(endpointOf(pod('qdrant-2'), reach()));
      expect(obs.error).to.equal(undefined);
      expect(obs.cluster?.status).to.equal('enabled');
      expect(obs.collections).to.be.an('array');
    });

    it('prefers the read-only key when both are given, and names it when it is refused (never printing it)', async () => {
      const obs = await api(reach(), { apiKey: 'rw-secret-key', readOnlyApiKey: 'wrong-ro-key' }).observe(endpointOf(pod('qdrant-2'), reach()));
      expect(obs.error).to.contain('the read-only API key (QDRANT_READ_ONLY_API_KEY) was refused');
      expect(obs.error).to.not.contain('wrong-ro-key');
      expect(obs.error).to.not.contain('rw-secret-key');
    });

    it('works with the read-write key alone', async () => {
      const obs = await api(reach(), { apiKey: 'rw-secret-key' }).observe(endpointOf(pod('qdrant-2'), reach()));
      expect(obs.error).to.equal(undefined);
      expect(obs.cluster?.status).to.equal('enabled');
    });
  });
});
