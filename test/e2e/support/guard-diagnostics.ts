// What a failed e2e scenario prints: the Helm commands it ran with their output, the release's objects, the hook
// Jobs' logs, the Qdrant pods' logs, the StatefulSet's Events and the guard's record. And the walk: scenarios of
// one release run in order, each starting from the state the previous one left, so a failed step makes the steps
// that need its state fail at once, with a pointer to the first failure, instead of timing out one by one.
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { standinDir } from './cluster.js';
import type { GuardRelease } from './guard-release.js';

function tail(text: string, max: number): string {
  return text.length <= max ? text : `[... ${text.length - max} chars cut ...]\n${text.slice(-max)}`;
}

async function section(title: string, body: () => Promise<string>): Promise<string> {
  try {
    return `--- ${title}\n${(await body()).trimEnd()}\n`;
  } catch (err) {
    return `--- ${title}\n(could not collect: ${(err as Error).message})\n`;
  }
}

/** Collects the diagnostics of one release as text. */
export async function collectDiagnostics(rel: GuardRelease, helmRuns = 3): Promise<string> {
  const { cluster, namespace: ns } = rel;
  const k = async (args: string[]) => {
    const r = await cluster.kubectl(args, { timeoutMs: 20_000 });
    return r.code === 0 ? r.stdout : `(exit ${r.code}) ${r.stderr}`;
  };
  const parts: string[] = [`===== diagnostics: release ${rel.release} (${rel.helm}) in namespace ${ns} =====`];
  for (const h of rel.history.slice(-helmRuns)) {
    const values = h.values ? `values: ${JSON.stringify(h.values)}\n` : '';
    parts.push(`--- ${rel.helm} ${h.args.join(' ')}\n${values}exit ${h.code} after ${h.seconds.toFixed(1)} s\n${tail(h.output.trim(), 6000)}\n`);
  }
  parts.push(await section('objects', () => k(['get', 'statefulset,pods,jobs,pvc,configmap', '-n', ns, '-o', 'wide'])));
  parts.push(
    await section('statefulset status', async () => {
      const sts = await rel.statefulSetObject();
      return JSON.stringify({ generation: sts.metadata.generation, updateStrategy: sts.spec.updateStrategy, status: sts.status }, null, 1);
    }),
  );
  for (const c of ['pre-upgrade', 'post-upgrade'] as const) parts.push(await section(`job/${rel.jobName(c)} log`, async () => tail(await rel.jobLog(c), 8000)));
  parts.push(await section(`pod/${rel.statefulset}-guard-test log`, () => k(['logs', '-n', ns, `${rel.statefulset}-guard-test`, '--tail=80'])));
  parts.push(
    await section('Qdrant pods', async () => {
      const out: string[] = [];
      for (const p of await rel.pods()) {
        out.push(`${p.name} uid=${p.uid} image=${p.image} ready=${p.ready} phase=${p.phase} startupCheck=${JSON.stringify(p.startupCheck ?? null)}`);
        out.push(tail(await k(['logs', '-n', ns, p.name, '-c', 'qdrant', '--tail=25']), 3000));
      }
      return out.join('\n');
    }),
  );
  parts.push(
    await section('events (last 60)', async () => {
      const list = JSON.parse(await k(['get', 'events', '-n', ns, '-o', 'json'])).items as any[];
      const when = (e: any) => String(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? '');
      return list
        .sort((a, b) => when(a).localeCompare(when(b)))
        .slice(-60)
        .map((e) => `${when(e)} ${e.type} ${e.reason} ${e.involvedObject.kind}/${e.involvedObject.name}: ${String(e.message).slice(0, 400)}`)
        .join('\n');
    }),
  );
  parts.push(await section('record', async () => JSON.stringify(await rel.record(), null, 1) ?? '(none)'));
  parts.push(
    await section(`stand-in log (lines naming ${ns}, last 40)`, async () => {
      const log = path.join(path.dirname(standinDir), 'kubelet.log');
      return fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(ns)).slice(-40).join('\n');
    }),
  );
  return parts.join('\n');
}

const NOT_RUN = 'not run:';

/** Registers an afterEach that prints the diagnostics of `rel()` when a test of the enclosing describe failed. */
export function dumpOnFailure(rel: () => GuardRelease | undefined): void {
  afterEach(async function (this: Context) {
    const r = rel();
    if (this.currentTest?.state !== 'failed' || !r) return;
    if ((this.currentTest as { err?: Error }).err?.message.startsWith(NOT_RUN)) return; // dumped with the first failure
    this.timeout(90_000);
    process.stderr.write(`\n${await collectDiagnostics(r)}\n`);
  });
}

/**
 * Ordered steps on one release. A step that fails marks the walk broken; later steps that depend on the state
 * fail at once naming it. `readOnly` steps (they only observe) never break the walk.
 */
export class Walk {
  private broken: string | undefined;

  step(title: string, timeoutMs: number, fn: (this: Context) => Promise<void>, opts: { readOnly?: boolean } = {}): void {
    const walk = this;
    it(title, async function () {
      this.timeout(timeoutMs);
      if (walk.broken) throw new Error(`${NOT_RUN} it starts from the state an earlier step leaves, and that step failed: "${walk.broken}"`);
      try {
        await fn.call(this);
      } catch (err) {
        if (!opts.readOnly) walk.broken = title;
        throw err;
      }
    });
  }
}
