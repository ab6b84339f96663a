/**
 * TEST DOUBLE harness: starts the Kubernetes API double, writes its kubeconfig, and builds the real
 * adapter (hook/kube/client.ts) against it with fast, observable timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKubeApi } from '../../../hook/kube/client.js';
import type { KubeApi, KubeApiOptions } from '../../../hook/kube/types.js';
import type { Clock } from '../../../hook/runtime/clock.js';
import { startKubeApiDouble, type DoubleOptions, type KubeApiDouble } from './index.js';

/** Real time, but sleeps are recorded and shortened to `maxSleepMs`, so backoffs cost nothing. */
export function recordingClock(maxSleepMs = 5): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  let skipped = 0;
  return {
    sleeps,
    now: () => Date.now() + skipped,
    sleep: async (ms) => {
      sleeps.push(ms);
      const real = Math.min(ms, maxSleepMs);
      skipped += ms - real;
      await new Promise((r) => setTimeout(r, real));
    },
  };
}

export interface Harness {
  double: KubeApiDouble;
  api: KubeApi;
  clock: Clock & { sleeps: number[] };
  progress: string[];
  dir: string;
  kubeconfig: string;
  /** Another adapter on the same double (a second writer, other options). */
  makeApi(overrides?: Partial<KubeApiOptions>): KubeApi;
  close(): Promise<void>;
}

export async function startHarness(
  options: { double?: DoubleOptions; api?: Partial<KubeApiOptions>; realClock?: boolean } = {},
): Promise<Harness> {
  const double = await startKubeApiDouble(options.double);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kube-double-'));
  const kubeconfig = double.writeKubeconfig(dir);
  const clock = recordingClock();
  if (options.realClock) {
    clock.now = () => Date.now();
    clock.sleep = async (ms) => {
      clock.sleeps.push(ms);
      await new Promise((r) => setTimeout(r, ms));
    };
  }
  const progress: string[] = [];
  const makeApi = (overrides: Partial<KubeApiOptions> = {}) =>
    createKubeApi({
      kubeconfig,
      clock,
      progress: { say: (m) => progress.push(m) },
      // No service-account file here: the namespace comes from the kubeconfig context.
      serviceAccountNamespaceFile: path.join(dir, 'no-such-namespace-file'),
      requestTimeoutMs: 2000,
      pollIntervalMs: 20,
      ...options.api,
      ...overrides,
    });
  return {
    double,
    api: makeApi(),
    clock,
    progress,
    dir,
    kubeconfig,
    makeApi,
    async close() {
      await double.idle();
      await double.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
