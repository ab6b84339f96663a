/**
 * diagnose-logs --pod: the log read through the real Kubernetes adapter from the API double (a test double),
 * the log itself one the real Qdrant 1.16.3 server wrote (test/fixtures/qdrant-logs).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, type CliContext } from '../../hook/cli.js';
import { startHarness, type Harness } from '../support/kube-api-double/harness.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/qdrant-logs');

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = { env: {}, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  return { code: await runCli(args, ctx), stdout, stderr: () => stderr };
}

describe('diagnose-logs --pod (Kubernetes API double)', function () {
  this.timeout(30_000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    h.double.seedQdrantStatefulSet({ name: 'qdrant', replicas: 3 });
  });
  afterEach(() => h.close());

  it("reads the crashed container's previous log of the pod and finds the 1.16 panic", async () => {
    const restart = readFileSync(path.join(fixtures, 'v1.16.3_3peer_state-lost_qdrant-1_restart.text.log'), 'utf8');
    h.double.appendPodLog('qdrant-1', restart.trimEnd(), { container: 'qdrant', previous: true });
    const base = ['diagnose-logs', '--pod', 'qdrant-1', '--kubeconfig', h.kubeconfig, '--namespace', 'qdrant-ns', '--output', 'json'];
    const r = await cli([...base, '--previous']);
    expect(r.code, r.stderr()).to.equal(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.details).to.include({ signature: true, role: 'lost-state', pod: 'qdrant-1', source: 'the log of pod qdrant-1 (Kubernetes API)' });
    expect(h.double.requestsTo('GET', '/api/v1/namespaces/qdrant-ns/pods/qdrant-1/log')[0]!.query).to.contain('container=qdrant').and.contain('previous=true');
  });

  it("exits 0 on a clean current log and names the pod's namespace when the pod is not there", async () => {
    const clean = readFileSync(path.join(fixtures, 'v1.13.4-to-v1.13.5_3peer_clean-rolling-upgrade_qdrant-0_start2_v1.13.5.text.log'), 'utf8');
    h.double.appendPodLog('qdrant-0', clean.trimEnd(), { container: 'qdrant' });
    const ok = await cli(['diagnose-logs', '--pod', 'qdrant-0', '--kubeconfig', h.kubeconfig, '--namespace', 'qdrant-ns']);
    expect(ok.code, ok.stderr()).to.equal(0);
    const missing = await cli(['diagnose-logs', '--pod', 'qdrant-9', '--kubeconfig', h.kubeconfig, '--namespace', 'qdrant-ns']);
    expect(missing.code).to.equal(3);
    expect(missing.stderr()).to.contain('qdrant-9').and.contain('qdrant-ns');
  });
});
