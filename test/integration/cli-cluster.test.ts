/**
 * The cluster commands through the CLI (hook/cli.ts): flags, exit codes and JSON, with the real adapters built
 * from a kubeconfig pointing at the Kubernetes API double and the Qdrant emulator behind the pod IPs (test doubles).
 */
import { expect } from 'chai';
import { parse } from 'lossless-json';
import { runCli, type CliContext } from '../../hook/cli.js';
import { runPreUpgrade } from '../../hook/commands/pre-upgrade.js';
import { preUpgradeOptions, startScenario, type Scenario } from '../support/guard-scenario.js';

function context(env: NodeJS.ProcessEnv = {}): CliContext & { out: string; err: string } {
  const ctx = {
    env,
    out: '',
    err: '',
    stdout(t: string) {
      ctx.out += t;
    },
    stderr(t: string) {
      ctx.err += t;
    },
  };
  return ctx;
}

describe('cluster commands through the CLI (API double + Qdrant emulator)', function () {
  this.timeout(60_000);
  let s: Scenario;
  afterEach(async () => s && (await s.close()));

  const target = (s: Scenario) => ['--release', 'qdrant', '--statefulset', 'qdrant', '--kubeconfig', s.kube.kubeconfig];

  it('verify exits 0 on a healthy cluster and prints peer ids as exact strings in JSON', async () => {
    s = await startScenario({ peers: 3 });
    await runPreUpgrade(preUpgradeOptions({ targetVersion: '1.13.4' }), s.deps);
    const ctx = context();
    const code = await runCli(['verify', ...target(s), '--output', 'json'], ctx);
    expect(code, ctx.err + ctx.out).to.equal(0);
    const doc = parse(ctx.out) as { verdict: string; checks: { id: string; observed: string }[] };
    expect(doc.verdict).to.equal('pass');
    const identity = doc.checks.filter((c) => c.id === 'peer.identity');
    expect(identity.map((c) => c.observed)).to.deep.equal(s.qdrant.peers.map((p) => `peer ${p.peerId}, as recorded`));
  });

  it('post-upgrade exits 1 on a failed verification, and 0 with a loud warning under --on-failure report', async () => {
    s = await startScenario({ peers: 3 });
    await runPreUpgrade(preUpgradeOptions(), s.deps);
    s.applyUpgrade('1.13.5');
    await s.rollOutAll({ fault: (o) => (o === 1 ? 'new-peer-id' : undefined) });
    const args = ['post-upgrade', ...target(s), '--target-version', '1.13.5', '--timeout-seconds', '20'];
    const failing = context();
    expect(await runCli(args, failing)).to.equal(1);
    expect(failing.out).to.match(/^FAILED: /);
    const reporting = context();
    expect(await runCli([...args, '--on-failure', 'report'], reporting)).to.equal(0);
    expect(reporting.out).to.match(/^FAILED: WARNING: .*NOT verified/);
  });

  it('exits 2 for a target version that is not semver, and 3 when the API server cannot be reached', async () => {
    s = await startScenario({ peers: 1 });
    const usage = context();
    const code = await runCli(['pre-upgrade', ...target(s), '--target-version', 'latest', '--worker-image', 'g:1'], usage);
    expect(code).to.equal(2);
    expect(usage.err).to.contain('"latest" is not a semver version');
    expect(usage.err).to.contain('upgradeGuard.targetVersion');

    const { writeFileSync, readFileSync } = await import('node:fs');
    const dead = `${s.kube.dir}/dead.kubeconfig`;
    writeFileSync(dead, readFileSync(s.kube.kubeconfig, 'utf8').replace(/server: .*/, 'server: http://127.0.0.1:9'));
    const infra = context();
    const infraCode = await runCli(['verify', '--release', 'qdrant', '--statefulset', 'qdrant', '--kubeconfig', dead], infra);
    expect(infraCode).to.equal(3);
    expect(infra.err).to.match(/infrastructure error/);
  });
});
