// Starts (or reuses) the e2e cluster of test/cluster from mocha and runs the real kubectl and Helm against it.
//   const cluster = await ensureCluster();   // test/cluster/up.sh: idempotent, ~10s when cold
//   await cluster.kubectl(['get', 'nodes']);
//   await releaseCluster(cluster);           // test/cluster/down.sh, only if this process started it
// Set E2E_KEEP_CLUSTER=1 to leave a cluster this process started running (to inspect it, or to share one across
// test files: later ensureCluster() calls reuse it).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const kubectlBin = path.join(repoRoot, '.tools/bin/kubectl');
export const helm4Bin = path.join(repoRoot, '.tools/bin/helm4');
export const helm3Bin = path.join(repoRoot, '.tools/bin/helm3');
export const hookBundle = path.join(repoRoot, 'dist/qdrant-upgrade-guard.mjs');
// test/cluster/lib.sh: a copy on another CLUSTER_PORT_BASE keeps its state in folders suffixed with the base.
const suffix = process.env.CLUSTER_PORT_BASE && process.env.CLUSTER_PORT_BASE !== '26400' ? `-${process.env.CLUSTER_PORT_BASE}` : '';
/** Where the stand-in keeps its state; `resolve.json` and `env-overrides.json` live here. */
export const standinDir = path.join(repoRoot, `.cache/cluster/run${suffix}/standin`);
export const volumesDir = path.join(repoRoot, `.cache/cluster/volumes${suffix}`);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; never rejects for a non-zero exit (the caller asserts on `code`). */
export function run(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, cwd: opts.cwd ?? repoRoot },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err); // ENOENT and the like
        if (err && err.killed) return reject(new Error(`${path.basename(file)} ${args.join(' ')}: killed after ${opts.timeoutMs ?? 60_000}ms\n${stderr}`));
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export interface Cluster {
  kubeconfig: string;
  /** True when this process started the cluster (releaseCluster then stops it). */
  startedHere: boolean;
  /** Seconds up.sh took. */
  upSeconds: number;
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** kubectl that must succeed; answers stdout. */
  kubectlOk(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  kubectlJson<T = any>(args: string[]): Promise<T>;
  helm(bin: string, args: string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
}

function makeCluster(kubeconfig: string, startedHere: boolean, upSeconds: number): Cluster {
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  const kubectl = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) => run(kubectlBin, args, { env, ...opts });
  const kubectlOk = async (args: string[], opts: { input?: string; timeoutMs?: number } = {}) => {
    const r = await kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  return {
    kubeconfig,
    startedHere,
    upSeconds,
    kubectl,
    kubectlOk,
    kubectlJson: async (args) => JSON.parse(await kubectlOk([...args, '-o', 'json'])),
    helm: (bin, args, opts = {}) => run(bin, args, { env, timeoutMs: opts.timeoutMs ?? 180_000 }),
  };
}

/** Brings the cluster up with test/cluster/up.sh (a no-op when it already answers). Needs `make cluster-build tools`. */
export async function ensureCluster(): Promise<Cluster> {
  for (const [f, how] of [
    [kubectlBin, 'make tools'],
    [path.join(repoRoot, '.cache/cluster/bin/kube-apiserver'), 'make cluster-build'],
  ]) {
    if (!fs.existsSync(f)) throw new Error(`${path.relative(repoRoot, f)} is missing: run \`${how}\``);
  }
  const started = Date.now();
  const r = await run(path.join(repoRoot, 'test/cluster/up.sh'), [], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`test/cluster/up.sh exited ${r.code}:\n${r.stderr.slice(-4000)}`);
  const kubeconfig = r.stdout.trim().split('\n').pop()!;
  return makeCluster(kubeconfig, !/already running/.test(r.stderr), (Date.now() - started) / 1000);
}

export async function releaseCluster(cluster: Cluster | undefined): Promise<void> {
  if (!cluster?.startedHere || process.env.E2E_KEEP_CLUSTER) return;
  const r = await run(path.join(repoRoot, 'test/cluster/down.sh'), [], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`test/cluster/down.sh exited ${r.code}: ${r.stderr}`);
}

/** Polls `probe` until it answers a value (not undefined) or the deadline passes; the error names `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: last error: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits for a pod to reach a terminal phase and answers it. */
export function waitForPodDone(cluster: Cluster, ns: string, name: string, timeoutMs = 30_000): Promise<any> {
  return waitFor(
    `pod ${ns}/${name} to finish`,
    async () => {
      const pod = await cluster.kubectlJson(['get', 'pod', '-n', ns, name]);
      return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' ? pod : undefined;
    },
    timeoutMs,
  );
}

/** A fresh namespace name for one test file. */
export function testNamespace(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e4)}`;
}

/** The host folder behind a PVC (its bound PV's hostPath): scenarios edit volumes here, e.g. lose raft_state.json. */
export async function pvcFolder(cluster: Cluster, ns: string, claim: string): Promise<string> {
  const pvc = await cluster.kubectlJson(['get', 'pvc', '-n', ns, claim]);
  if (pvc.status?.phase !== 'Bound') throw new Error(`pvc ${ns}/${claim} is ${pvc.status?.phase ?? 'not bound'}`);
  const pv = await cluster.kubectlJson(['get', 'pv', pvc.spec.volumeName]);
  return pv.spec.hostPath.path;
}

/**
 * Sets (or with `undefined`, clears) extra environment variables for the containers of one pod, applied at their next
 * start by the stand-in (test/cluster/README.md, env overrides), e.g. `{ QDRANT_EMULATOR_FAULT: 'new-peer-id' }`.
 */
export function setEnvOverrides(ns: string, pod: string, env: Record<string, string> | undefined): void {
  const file = path.join(standinDir, 'env-overrides.json');
  const all: Record<string, Record<string, string>> = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  if (env) all[`${ns}/${pod}`] = env;
  else delete all[`${ns}/${pod}`];
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(all, null, 1));
  fs.renameSync(tmp, file);
}

/** The stand-in's resolve file: pod DNS names -> pod IPs. */
export function resolvedNames(): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(standinDir, 'resolve.json'), 'utf8'));
}
