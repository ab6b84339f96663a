// A release of the chart driven through the real Helm 3 or Helm 4 binary against the e2e cluster, and the
// observations the upgrade-guard scenarios make of it: the StatefulSet, its Qdrant pods, the PV folders behind
// their claims (host paths: the stand-in's folder provisioner), the archives there, the record ConfigMap, Events,
// the hook Jobs and their logs, and each peer's id from GET /cluster on its pod IP.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QDRANT_RUNTIME_ANNOTATION } from '../../cluster/kubelet/images.js';
import { helm3Bin, helm4Bin, repoRoot, run, standinDir, waitFor, type Cluster, type RunResult } from './cluster.js';

export type HelmMajor = 'helm3' | 'helm4';
export const HELM_MAJORS: readonly HelmMajor[] = ['helm3', 'helm4'];

export const chartDir = path.join(repoRoot, 'chart');
/** Ends with `qdrant-upgrade-guard`, so the stand-in runs it as `node dist/qdrant-upgrade-guard.mjs`. */
export const HOOK_IMAGE_REPOSITORY = 'ghcr.io/qdrant-upgrade-guard/qdrant-upgrade-guard';
/** Helm's --timeout: above every hook Job's activeDeadlineSeconds with the values below (post-upgrade: 180 s). */
export const HELM_TIMEOUT_SECONDS = 210;
export const PER_PEER_SECONDS = 30;
export const POST_UPGRADE_TIMEOUT_SECONDS = 60;
export const PRE_UPGRADE_TIMEOUT_SECONDS = 60;

export type Values = { [key: string]: unknown };

/**
 * Values every scenario starts from: small hook deadlines (so a hang fails in minutes, not the default 10) and a
 * 1 s readiness probe (the default waits 5 s before the first probe, which only slows every restart down).
 * Qdrant is pinned to the emulator: these scenarios walk through versions no real binary exists for (1.13.6,
 * 1.14.0) and inject emulated faults; the real-server scenarios (real-qdrant.test.ts) override the pin.
 */
export function baseValues(): Values {
  return {
    replicaCount: 3,
    image: { tag: 'v1.13.4' },
    podAnnotations: { [QDRANT_RUNTIME_ANNOTATION]: 'emulator' },
    readinessProbe: { initialDelaySeconds: 1, periodSeconds: 1 },
    upgradeGuard: {
      image: { repository: HOOK_IMAGE_REPOSITORY },
      preUpgrade: { timeoutSeconds: PRE_UPGRADE_TIMEOUT_SECONDS },
      postUpgrade: { timeoutSeconds: POST_UPGRADE_TIMEOUT_SECONDS },
      stagedRollout: { perPeerSeconds: PER_PEER_SECONDS },
    },
  };
}

function isPlainObject(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars of `over` replace. */
export function mergeValues(base: Values, ...overs: Values[]): Values {
  const out: Values = { ...base };
  for (const over of overs) {
    for (const [k, v] of Object.entries(over)) {
      out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeValues(out[k] as Values, v) : v;
    }
  }
  return out;
}

export interface HelmRun extends RunResult {
  what: string;
  args: string[];
  seconds: number;
  /** stdout and stderr together (Helm 4 prints hook logs and errors on stderr). */
  output: string;
  /** The values file's content (-f), for diagnostics. */
  values?: Values;
}

export interface QdrantPod {
  name: string;
  ordinal: number;
  uid: string;
  image: string;
  ready: boolean;
  ip: string | undefined;
  phase: string;
  createdAt: string;
  /** The startup-check init container's state: terminated with exit code, or undefined while it has not ended. */
  startupCheck?: { exitCode: number; message?: string; restarts: number };
}

function toQdrantPod(p: any): QdrantPod {
  const ordinal = Number(String(p.metadata.name).split('-').pop());
  const qdrant = (p.status?.containerStatuses ?? []).find((c: any) => c.name === 'qdrant');
  const init = (p.status?.initContainerStatuses ?? []).find((c: any) => c.name === 'upgrade-guard-startup-check');
  const term = init?.state?.terminated ?? init?.lastState?.terminated;
  return {
    name: p.metadata.name,
    ordinal,
    uid: p.metadata.uid,
    image: (p.spec.containers.find((c: any) => c.name === 'qdrant') ?? p.spec.containers[0]).image,
    ready: Boolean(qdrant?.ready),
    ip: p.status?.podIP,
    phase: p.status?.phase ?? '',
    createdAt: p.metadata.creationTimestamp,
    ...(term ? { startupCheck: { exitCode: term.exitCode, message: term.message, restarts: init.restartCount ?? 0 } } : {}),
  };
}

export class GuardRelease {
  readonly history: HelmRun[] = [];

  constructor(
    readonly cluster: Cluster,
    readonly helm: HelmMajor,
    readonly release: string,
    readonly namespace: string,
  ) {}

  /** The chart's fullname: `<release>-qdrant` (the release names used here never contain "qdrant"). */
  get statefulset(): string {
    return `${this.release}-qdrant`;
  }

  get bin(): string {
    return this.helm === 'helm3' ? helm3Bin : helm4Bin;
  }

  /** Helm 3's boolean --wait (legacy readiness), Helm 4's kstatus watcher. */
  waitArgs(): string[] {
    return this.helm === 'helm3' ? ['--wait'] : ['--wait=watcher'];
  }

  async helmRun(what: string, args: string[], timeoutSeconds = HELM_TIMEOUT_SECONDS, values?: Values): Promise<HelmRun> {
    const started = Date.now();
    const r = await this.cluster.helm(this.bin, args, { timeoutMs: (timeoutSeconds + 60) * 1000 });
    const entry: HelmRun = { ...r, what, args, seconds: (Date.now() - started) / 1000, output: `${r.stdout}\n${r.stderr}`, ...(values ? { values } : {}) };
    this.history.push(entry);
    return entry;
  }

  /** Runs helm with the values in a temporary file (`-f`), removed afterwards. */
  private async withValues(what: string, values: Values, args: (file: string) => string[]): Promise<HelmRun> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-e2e-values-'));
    const file = path.join(dir, 'values.yaml');
    fs.writeFileSync(file, JSON.stringify(values, null, 1)); // JSON is YAML
    try {
      return await this.helmRun(what, args(file), HELM_TIMEOUT_SECONDS, values);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  async install(values: Values, opts: { wait?: boolean } = {}): Promise<HelmRun> {
    return this.withValues('install', values, (file) => [
      'install', this.release, chartDir, '--namespace', this.namespace, '--create-namespace', '-f', file,
      '--timeout', `${HELM_TIMEOUT_SECONDS}s`, ...(opts.wait === false ? [] : this.waitArgs()),
    ]);
  }

  /**
   * `helm upgrade` with these values (never --reuse-values: every step states its values). Helm 4 gets
   * --force-conflicts unless told otherwise: after a staged rollout the partition has another field manager
   * (the SSA scenario checks that case on its own, without the flag).
   */
  async upgrade(values: Values, opts: { wait?: boolean; forceConflicts?: boolean } = {}): Promise<HelmRun> {
    const force = opts.forceConflicts ?? this.helm === 'helm4';
    return this.withValues('upgrade', values, (file) => [
      'upgrade', this.release, chartDir, '--namespace', this.namespace, '-f', file, '--timeout', `${HELM_TIMEOUT_SECONDS}s`,
      ...(opts.wait ? this.waitArgs() : []), ...(force ? ['--force-conflicts'] : []),
    ]);
  }

  async test(): Promise<HelmRun> {
    return this.helmRun('test', ['test', this.release, '--namespace', this.namespace, '--logs', '--timeout', '120s'], 120);
  }

  async statefulSetObject(): Promise<any> {
    return this.cluster.kubectlJson(['get', 'statefulset', '-n', this.namespace, this.statefulset]);
  }

  async pods(): Promise<QdrantPod[]> {
    const list = await this.cluster.kubectlJson([
      'get', 'pods', '-n', this.namespace, '-l', `app.kubernetes.io/name=qdrant,app.kubernetes.io/instance=${this.release}`,
    ]);
    return list.items
      .filter((p: any) => !p.metadata.deletionTimestamp)
      .map(toQdrantPod)
      .sort((a: QdrantPod, b: QdrantPod) => a.ordinal - b.ordinal);
  }

  /** Waits until `count` pods run `image` (a tag suffix like `:v1.13.5`, or any) and are Ready; answers them. */
  async waitPodsReady(count: number, imageSuffix?: string, timeoutMs = 90_000): Promise<QdrantPod[]> {
    return waitFor(
      `${count} ready Qdrant pod(s)${imageSuffix ? ` on ${imageSuffix}` : ''} in ${this.namespace}`,
      async () => {
        const pods = await this.pods();
        const ok = pods.length === count && pods.every((p) => p.ready && (!imageSuffix || p.image.endsWith(imageSuffix)));
        return ok ? pods : undefined;
      },
      timeoutMs,
      500,
    );
  }

  /** The host folder behind `qdrant-storage-<sts>-<ordinal>` (hostPath or local path of its bound PV). */
  async pvFolder(ordinal: number): Promise<string> {
    const pvc = await this.cluster.kubectlJson(['get', 'pvc', '-n', this.namespace, `qdrant-storage-${this.statefulset}-${ordinal}`]);
    const pv = await this.cluster.kubectlJson(['get', 'pv', pvc.spec.volumeName]);
    const folder = pv.spec.hostPath?.path ?? pv.spec.local?.path; // stand-in: hostPath; real node: local
    if (!folder || !fs.existsSync(folder)) throw new Error(`PV ${pvc.spec.volumeName} of ${pvc.metadata.name} has no host folder (${folder})`);
    return folder;
  }

  /** Archive file names in `<PV folder>/.upgrade-guard/`, oldest first (names end in a UTC timestamp). */
  async archives(ordinal: number): Promise<string[]> {
    const dir = path.join(await this.pvFolder(ordinal), '.upgrade-guard');
    if (!fs.existsSync(dir)) return [];
    const ts = (n: string) => /-(\d{8}T\d{6}Z)\.tar\.gz$/.exec(n)?.[1] ?? '';
    return fs
      .readdirSync(dir)
      .filter((n) => /^raft-.*\.tar\.gz$/.test(n))
      .sort((a, b) => ts(a).localeCompare(ts(b)) || a.localeCompare(b));
  }

  /** The record the hooks write (`<release>-upgrade-guard`, key record.json; peer ids are JSON strings). */
  async record(): Promise<any | undefined> {
    const r = await this.cluster.kubectl(['get', 'configmap', '-n', this.namespace, `${this.release}-upgrade-guard`, '-o', 'json']);
    if (r.code !== 0) return undefined;
    const text = JSON.parse(r.stdout).data?.['record.json'];
    return text ? JSON.parse(text) : undefined;
  }

  /** Events on the StatefulSet, oldest first; `reason` filters. */
  async events(reason?: string): Promise<any[]> {
    const list = await this.cluster.kubectlJson([
      'get', 'events', '-n', this.namespace, '--field-selector', `involvedObject.name=${this.statefulset}${reason ? `,reason=${reason}` : ''}`,
    ]);
    const when = (e: any) => e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? '';
    return list.items.sort((a: any, b: any) => String(when(a)).localeCompare(String(when(b))));
  }

  jobName(component: 'pre-upgrade' | 'post-upgrade'): string {
    return `${this.statefulset}-guard-${component}`;
  }

  async job(component: 'pre-upgrade' | 'post-upgrade'): Promise<any | undefined> {
    const r = await this.cluster.kubectl(['get', 'job', '-n', this.namespace, this.jobName(component), '-o', 'json']);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  }

  /** The hook Job's log (the chart keeps finished hook Jobs until the next before-hook-creation). */
  async jobLog(component: 'pre-upgrade' | 'post-upgrade'): Promise<string> {
    const r = await this.cluster.kubectl(['logs', '-n', this.namespace, `job/${this.jobName(component)}`, '--tail=-1']);
    return r.code === 0 ? r.stdout : `(no log: ${r.stderr.trim()})`;
  }

  /** Seconds from the Job's start to its Complete/Failed condition (API timestamps: 1 s resolution). */
  async jobSeconds(component: 'pre-upgrade' | 'post-upgrade'): Promise<{ seconds: number; deadline: number; outcome: string }> {
    const job = await this.job(component);
    if (!job) throw new Error(`job ${this.jobName(component)} not found`);
    const end = (job.status?.conditions ?? []).find((c: any) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    if (!end) throw new Error(`job ${this.jobName(component)} has not finished: ${JSON.stringify(job.status)}`);
    return {
      seconds: (Date.parse(end.lastTransitionTime) - Date.parse(job.status.startTime)) / 1000,
      deadline: job.spec.activeDeadlineSeconds,
      outcome: `${end.type}${end.reason ? ` (${end.reason})` : ''}`,
    };
  }

  /** This peer's id from GET /cluster on its pod IP, as the exact decimal string (never a JS number). */
  async peerIdOf(pod: QdrantPod): Promise<string> {
    if (!pod.ip) throw new Error(`${pod.name} has no pod IP`);
    const res = await fetch(`http://${pod.ip}:6333/cluster`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const id = /"peer_id"\s*:\s*(\d+)/.exec(text)?.[1];
    if (!res.ok || !id) throw new Error(`GET /cluster on ${pod.name} (${pod.ip}) answered ${res.status}: ${text.slice(0, 300)}`);
    return id;
  }

  async peerIds(): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const p of await this.pods()) out.set(p.ordinal, await this.peerIdOf(p));
    return out;
  }

  /** `qdrant-upgrade-guard <args>` on the host (as an operator would run it beside the volume). */
  runCli(args: string[]): Promise<RunResult> {
    return run(process.execPath, [path.join(repoRoot, 'dist/qdrant-upgrade-guard.mjs'), ...args], { timeoutMs: 60_000 });
  }
}

/**
 * Samples the release's Qdrant pods every `intervalMs` (kubectl, one list per sample) until stopped, so a scenario
 * can tell in which order the pods were replaced and whether one waited for the other to be ready.
 */
export class PodTimeline {
  readonly samples: Array<{ t: number; pods: QdrantPod[] }> = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly rel: GuardRelease,
    private readonly onSample?: (pods: QdrantPod[]) => Promise<void>,
  ) {}

  start(intervalMs = 250): this {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          const pods = await this.rel.pods();
          this.samples.push({ t: Date.now(), pods });
          if (this.onSample) await this.onSample(pods);
        } catch {
          // A failed sample is only a gap in the timeline.
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Every pod instance (by UID) seen: ordinal, image, first seen, first seen ready. */
  instances(): Array<{ ordinal: number; uid: string; image: string; firstSeen: number; readyAt: number | undefined }> {
    const byUid = new Map<string, { ordinal: number; uid: string; image: string; firstSeen: number; readyAt: number | undefined }>();
    for (const s of this.samples) {
      for (const p of s.pods) {
        let e = byUid.get(p.uid);
        if (!e) byUid.set(p.uid, (e = { ordinal: p.ordinal, uid: p.uid, image: p.image, firstSeen: s.t, readyAt: undefined }));
        if (p.ready && e.readyAt === undefined) e.readyAt = s.t;
      }
    }
    return [...byUid.values()].sort((a, b) => a.firstSeen - b.firstSeen);
  }

  /** A compact text of the samples where anything changed, for failure messages. */
  describe(): string {
    let last = '';
    const lines: string[] = [];
    const t0 = this.samples[0]?.t ?? 0;
    for (const s of this.samples) {
      const line = s.pods.map((p) => `${p.ordinal}:${p.image.split(':').pop()}/${p.uid.slice(0, 5)}/${p.ready ? 'ready' : 'not-ready'}`).join(' ');
      if (line !== last) lines.push(`+${((s.t - t0) / 1000).toFixed(1)}s ${line}`);
      last = line;
    }
    return lines.join('\n');
  }
}

/**
 * Per-pod environment for the next container start, through the stand-in's test hook
 * (`<standin>/env-overrides.json`, test/cluster/README.md): e.g. a Qdrant emulator fault for one ordinal only.
 * Rewritten atomically; other pods' entries are kept.
 */
export function setEnvOverride(namespace: string, pod: string, env: Record<string, string> | undefined): void {
  const file = path.join(standinDir, 'env-overrides.json');
  let all: Record<string, Record<string, string>> = {};
  try {
    all = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    // none yet
  }
  if (env) all[`${namespace}/${pod}`] = env;
  else delete all[`${namespace}/${pod}`];
  const tmp = `${file}.${process.pid}.tmp`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(tmp, JSON.stringify(all, null, 1));
  fs.renameSync(tmp, file);
}
