/**
 * The steps of the contract between the Kubernetes API double and the real kube-apiserver (run against both by
 * test/e2e/kube-double-contract.test.ts, and against the double alone by test/integration/kube-api-double.test.ts):
 * server-side apply of a StatefulSet's rollout partition, the controller's observedGeneration after a PATCH, and
 * sinceTime on pod logs. A Target is one API server reached through a kubeconfig, with the two set-up actions whose
 * means differ (seeding the double, kubectl on the real one).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiException, AppsV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1StatefulSet } from '@kubernetes/client-node';
import { createKubeApi } from '../../../hook/kube/client.js';
import { systemClock } from '../../../hook/runtime/clock.js';
import { startKubeApiDouble, type KubeApiDouble } from './index.js';

export const PARTITION_FIELD = '.spec.updateStrategy.rollingUpdate.partition';

export interface Target {
  name: string;
  kubeconfig: string;
  namespace: string;
  /** A StatefulSet created by `kubectl create` (manager kubectl-create), partition defaulted to 0. */
  createStatefulSet(name: string): Promise<void>;
  /** A pod whose container wrote one line; the line's time as the log path stamps it (ms). */
  podWithOneLine(name: string): Promise<{ pod: string; container: string; time: number }>;
  close(): Promise<void>;
}

export interface Outcome {
  step: string;
  code: number;
  partition?: number;
  message?: string;
}

function apps(t: Target): AppsV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(t.kubeconfig);
  return kc.makeApiClient(AppsV1Api);
}

async function outcome(step: string, call: () => Promise<V1StatefulSet>): Promise<Outcome & { sts?: V1StatefulSet }> {
  try {
    const sts = await call();
    return { step, code: 200, partition: sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0, sts };
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { step, code: err.code, message: body?.message };
  }
}

function apply(t: Target, sts: string, manager: string, partition: number | undefined, force: boolean) {
  const body = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: sts, namespace: t.namespace },
    ...(partition === undefined ? {} : { spec: { updateStrategy: { rollingUpdate: { partition } } } }),
  };
  return apps(t).patchNamespacedStatefulSet(
    { name: sts, namespace: t.namespace, body, fieldManager: manager, ...(force ? { force: true } : {}) },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
}

function mergePatch(t: Target, sts: string, manager: string, partition: number, force = false) {
  return apps(t).patchNamespacedStatefulSet(
    { name: sts, namespace: t.namespace, body: { spec: { updateStrategy: { rollingUpdate: { partition } } } }, fieldManager: manager, ...(force ? { force: true } : {}) },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** The ownership steps: what each answers, in order. */
export async function ownershipSteps(t: Target): Promise<{ outcomes: Outcome[]; lagged: boolean; observed: boolean }> {
  const sts = 'contract';
  await t.createStatefulSet(sts);
  const outcomes: Outcome[] = [];
  const step = async (name: string, call: () => Promise<V1StatefulSet>) => {
    const o = await outcome(name, call);
    const { sts: _s, ...plain } = o;
    outcomes.push(plain);
    return o;
  };
  // The creator (kubectl-create here) owns the defaulted partition: Helm takes it with force, as a Helm 4 upgrade would.
  await step('helm applies partition 2 without force', () => apply(t, sts, 'helm', 2, false));
  const first = await step('helm applies partition 2 with force', () => apply(t, sts, 'helm', 2, true));
  // The response is the object as written: the controller has not seen the new generation yet.
  const lagged = (first.sts?.status?.observedGeneration ?? 0) < (first.sts?.metadata?.generation ?? 0);
  const observed = await pollUntil(
    'the StatefulSet controller to observe the new generation',
    async () => {
      const s = await apps(t).readNamespacedStatefulSet({ name: sts, namespace: t.namespace });
      return (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0) ? true : undefined;
    },
    30_000,
    100,
  );
  await step('the guard applies 1 without force', () => apply(t, sts, 'qdrant-upgrade-guard', 1, false));
  await step('the guard applies 1 with force', () => apply(t, sts, 'qdrant-upgrade-guard', 1, true));
  await step('helm applies 1, the value it finds', () => apply(t, sts, 'helm', 1, false));
  await step('the guard applies without the field', () => apply(t, sts, 'qdrant-upgrade-guard', undefined, false));
  await step('helm applies without the field', () => apply(t, sts, 'helm', undefined, false));
  await step('kubectl-patch merge-patches partition 3', () => mergePatch(t, sts, 'kubectl-patch', 3));
  await step('the guard applies 2 without force', () => apply(t, sts, 'qdrant-upgrade-guard', 2, false));
  await step('a merge patch with force', () => mergePatch(t, sts, 'kubectl-patch', 2, true));
  return { outcomes, lagged, observed };
}

/** Which of one line stamped T come back for sinceTime later in T's second, and for the next second. */
export async function sinceTimeSteps(t: Target): Promise<{ sameSecond: string; nextSecond: string; sinceTimes: string[] }> {
  const { pod, container, time } = await t.podWithOneLine('one-line');
  const api = createKubeApi({ kubeconfig: t.kubeconfig, namespace: t.namespace, clock: systemClock, progress: { say: () => undefined } });
  const second = Math.floor(time / 1000) * 1000;
  const laterInSecond = new Date(second + 999).toISOString();
  const nextSecond = new Date(second + 1000).toISOString();
  return {
    sameSecond: await api.podLogs(pod, { container, sinceTime: laterInSecond }),
    nextSecond: await api.podLogs(pod, { container, sinceTime: nextSecond }),
    sinceTimes: [laterInSecond, nextSecond],
  };
}

/** The double as a Target; call start() first. */
export function doubleTarget(): Target & { double?: KubeApiDouble; start(): Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-contract-'));
  const t: Target & { double?: KubeApiDouble; start(): Promise<void> } = {
    name: 'kube-api-double',
    kubeconfig: '',
    namespace: 'contract',
    async createStatefulSet(name) {
      t.double!.seedQdrantStatefulSet({ name, replicas: 1, fieldManager: 'kubectl-create' });
    },
    async podWithOneLine() {
      // Stamped 300 ms into its second, like a line a container wrote.
      const time = Date.UTC(2026, 11, 1, 6, 0, 0, 300);
      t.double!.appendPodLog('contract-0', 'one line', { time });
      return { pod: 'contract-0', container: 'qdrant', time };
    },
    async start() {
      t.double = await startKubeApiDouble({ namespace: t.namespace });
      t.kubeconfig = t.double.writeKubeconfig(dir);
    },
    async close() {
      await t.double?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}


async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
