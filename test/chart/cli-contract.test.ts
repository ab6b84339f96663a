// The contract between the chart and the CLI: every command line the chart renders (hook Jobs, test pod, startup
// check) is accepted by `qdrant-upgrade-guard` as it is in hook/cli.ts, i.e. it never ends in a usage error
// (exit 2). Cluster commands run with a kubeconfig that does not exist, so they stop at the first API call with
// an infrastructure error (exit 3); the startup check runs for real on an empty directory (a fresh volume, exit 0).
// A command the CLI does not declare yet gets no test here; one line of the table names each command the chart uses.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { COMMANDS } from '../../hook/cli.js';
import { find, HELMS, K8sObject, podSpec, renderOk, repoRoot } from './support/helm.js';

type Rendered = { command: string; kind: string; name: string; container: string; expectExit: number; files: string[] };

// The values files whose renders differ in the flags of that command.
const FLAG_VARIANTS = ['chart/ci/single-node-values.yaml', 'chart/ci/volume-snapshots-values.yaml', 'chart/ci/snapshots-volume-values.yaml'];
const CHART_COMMANDS: Rendered[] = [
  { command: 'volume', kind: 'StatefulSet', name: 'rel-qdrant', container: 'upgrade-guard-startup-check', expectExit: 0, files: FLAG_VARIANTS.slice(0, 1) },
  { command: 'pre-upgrade', kind: 'Job', name: 'rel-qdrant-guard-pre-upgrade', container: 'pre-upgrade', expectExit: 3, files: FLAG_VARIANTS },
  { command: 'post-upgrade', kind: 'Job', name: 'rel-qdrant-guard-post-upgrade', container: 'post-upgrade', expectExit: 3, files: FLAG_VARIANTS },
  { command: 'verify', kind: 'Pod', name: 'rel-qdrant-guard-test', container: 'verify', expectExit: 3, files: FLAG_VARIANTS.slice(0, 1) },
];

const declared = new Set(COMMANDS.map((c) => c.command));

function containerOf(doc: K8sObject, name: string): { command: string[]; args: string[] } {
  const pod = podSpec(doc);
  return [...(pod.initContainers ?? []), ...pod.containers].find((c: { name: string }) => c.name === name);
}

// Kubernetes expands $(VAR) from the container's env; do the same for the variables the chart uses.
function expand(args: string[], env: Record<string, string>): string[] {
  return args.map((a) => a.replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? ''));
}

function runCli(args: string[], storage: string) {
  const cli = path.join(repoRoot, 'hook/cli.ts');
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args.map((a) => (a === '/qdrant/storage' ? storage : a))], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, KUBECONFIG: path.join(storage, 'no-such-kubeconfig'), KUBERNETES_SERVICE_HOST: '' },
  });
}

describe('chart: command lines the CLI accepts', () => {
  let storage: string;
  before(() => {
    storage = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-cli-'));
  });
  after(() => fs.rmSync(storage, { recursive: true, force: true }));

  for (const c of CHART_COMMANDS.filter((c) => declared.has(c.command))) {
    for (const file of c.files) {
      it(`${c.command} as rendered with ${path.basename(file)} parses and runs (exit ${c.expectExit})`, function () {
        this.timeout(60000);
        const docs = renderOk(HELMS[1], { files: [file], upgrade: true });
        const container = containerOf(find(docs, c.kind, c.name), c.container);
        expect(container.command).to.deep.equal(['qdrant-upgrade-guard']);
        expect(container.args[0]).to.equal(c.command);
        const r = runCli(expand(container.args, { POD_NAME: 'rel-qdrant-0' }), storage);
        expect(r.status, `${container.args.join(' ')}\n${r.stdout}${r.stderr}`).to.equal(c.expectExit);
      });
    }
  }

  it('the CLI declares the commands the chart runs at install time (volume, pre-upgrade)', () => {
    expect([...declared]).to.include.members(['volume', 'pre-upgrade']);
  });
});
