// One pod on one stand-in node: sets up its folders and volumes, runs init containers in order and then the
// containers as local processes, probes them, restarts them per restartPolicy, reports status like the kubelet,
// and on deletion stops them (SIGTERM, grace period, SIGKILL) and deletes the pod object with grace 0.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Api, ApiError, isStatus } from './api.js';
import { ConfigError, expand, resolveEnv, type EnvSources } from './env.js';
import { resolveQdrantBinary, qdrantBinDir } from '../../support/real-qdrant/binaries.js';
import { mapImage, QDRANT_RAN_ANNOTATION, qdrantRuntimeChoice, type ImageMapping } from './images.js';
import { ContainerLogWriter, fallbackMessage, parseLog } from './logs.js';
import { podHostnames, type PodIpAllocator, type ResolveFile } from './network.js';
import { mapPaths, type PathMapping } from './paths.js';
import { runProbe } from './probes.js';
import { kubeTime, sleep, type Logger } from './util.js';
import { materializeVolumes, VolumeNotReady, type VolumeSources } from './volumes.js';

export interface NodeContext {
  name: string;
  hostIP: string;
  allocatable: Record<string, string>;
}

export interface WorkerDeps {
  api: Api;
  node: NodeContext;
  ipam: PodIpAllocator;
  resolve: ResolveFile;
  /** <state>/pods: one folder per pod. */
  podsDir: string;
  /** <state>/pgids: one empty file per live process group, so down.sh can kill what a crashed stand-in left. */
  pgidDir: string;
  repo: string;
  /** `file://` URL of tsx's loader, for `node --import` from any working dir. */
  tsxImport: string;
  log: Logger;
  /**
   * Optional JSON file `{"<namespace>/<pod>": {"VAR": "value"}}` read at every container start: its variables are
   * added to every container of that pod (e.g. QDRANT_EMULATOR_FAULT for one Qdrant pod), without touching the spec.
   */
  envOverridesFile?: string;
}

/** Restart back-off: 2s doubling to 60s, reset after 60s of running (the kubelet: 10s to 300s, reset after 10min). */
export const BACKOFF_BASE_MS = 2000;
export const BACKOFF_MAX_MS = 60_000;
const BACKOFF_RESET_MS = 60_000;
const MAX_GRACE_SECONDS = 60;
const TERMINATION_MESSAGE_MAX = 4096;

type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: Terminated };

interface Terminated {
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
  containerID?: string;
}

interface Instance {
  proc: ChildProcess;
  logs: ContainerLogWriter;
  exited: Promise<Terminated>;
  probes: AbortController;
  /** Set when the stand-in kills the process because a liveness/startup probe failed. */
  killedBy?: string;
}

class ContainerRun {
  restartCount = 0;
  state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  lastState: ContainerState | undefined;
  ready = false;
  started = false;
  /** True once this container will never run again (finished for good or the pod is stopping). */
  done = false;
  everStarted = false;
  current: Instance | undefined;
  /** Log file of each instance, by restart count. */
  readonly logFiles: string[] = [];
  execProbeNoted = false;

  constructor(
    readonly spec: any,
    readonly init: boolean,
    readonly dir: string,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  get name(): string {
    return this.spec.name;
  }

  get sidecar(): boolean {
    return this.init && this.spec.restartPolicy === 'Always';
  }

  containerID(): string {
    return `standin://${path.basename(path.dirname(path.dirname(this.dir)))}/${this.name}/${this.restartCount}`;
  }

  status(): any {
    return {
      name: this.name,
      image: this.spec.image,
      imageID: `standin://${this.spec.image}`,
      ...(this.everStarted ? { containerID: this.containerID() } : {}),
      ready: this.ready,
      started: this.started,
      restartCount: this.restartCount,
      state: this.state,
      lastState: this.lastState ?? {},
    };
  }
}

export interface LogTarget {
  file: string;
  /** Resolves when the instance writing the file has finished (immediately for a finished one). */
  finished: Promise<void>;
  running: boolean;
}

export class PodWorker {
  pod: any;
  readonly uid: string;
  readonly dir: string;
  podIP: string | undefined;
  private startTime: string | undefined;
  private readonly init: ContainerRun[];
  private readonly main: ContainerRun[];
  private initialized = false;
  private phaseOverride: { phase: 'Failed' | 'Succeeded'; reason?: string; message?: string } | undefined;
  private readonly stop = new AbortController();
  private stopping: Promise<void> | undefined;
  private disposed = false;
  private readonly conditionTimes = new Map<string, { status: string; time: string }>();
  private statusDirty = false;
  private statusLoop: Promise<void> | undefined;
  private lastStatusJson = '';
  private volumes = new Map<string, string>();
  private kubeconfigFile: string | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    pod: any,
    private readonly deps: WorkerDeps,
  ) {
    this.pod = pod;
    this.uid = pod.metadata.uid;
    this.dir = path.join(deps.podsDir, `${pod.metadata.namespace}_${pod.metadata.name}_${this.uid}`);
    const cdir = (name: string) => path.join(this.dir, 'containers', name);
    this.init = (pod.spec.initContainers ?? []).map((c: any) => new ContainerRun(c, true, cdir(c.name)));
    this.main = (pod.spec.containers ?? []).map((c: any) => new ContainerRun(c, false, cdir(c.name)));
    // A pod that restarts in a new stand-in keeps its restart counts.
    for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const run = [...this.init, ...this.main].find((r) => r.name === s.name);
      if (run) run.restartCount = s.restartCount ?? 0;
    }
    if (!this.init.length) this.initialized = true;
  }

  private get ns(): string {
    return this.pod.metadata.namespace;
  }
  private get name(): string {
    return this.pod.metadata.name;
  }
  private get restartPolicy(): string {
    return this.pod.spec.restartPolicy ?? 'Always';
  }
  private log(msg: string): void {
    this.deps.log(`pod ${this.ns}/${this.name}: ${msg}`);
  }

  /** Starts the pod; the returned promise settles when every container is done for good. */
  start(): void {
    this.running = this.run().catch((err) => this.log(`worker failed: ${(err as Error).stack ?? err}`));
  }

  /** The pod object changed on the server. */
  update(pod: any): void {
    if (pod.metadata.uid !== this.uid) return;
    this.pod = pod;
    if (pod.metadata.deletionTimestamp && !this.stopping) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
      void this.terminate(grace, true);
    }
  }

  // ---------------------------------------------------------------- lifecycle

  private async run(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    // hostNetwork pods share the node's address, as on a real node.
    this.podIP = this.pod.spec.hostNetwork ? this.deps.node.hostIP : this.deps.ipam.allocate();
    this.deps.resolve.set(
      this.uid,
      podHostnames({ name: this.name, namespace: this.ns, hostname: this.pod.spec.hostname, subdomain: this.pod.spec.subdomain }),
      this.podIP,
    );
    this.startTime = kubeTime();
    for (const c of this.init) c.state = { waiting: { reason: 'PodInitializing' } };
    this.queueStatus();
    if (this.pod.spec.activeDeadlineSeconds !== undefined) {
      this.deadlineTimer = setTimeout(() => void this.deadlineExceeded(), this.pod.spec.activeDeadlineSeconds * 1000);
    }
    if (!(await this.setUp())) return;
    for (const c of this.init) {
      if (this.stop.signal.aborted) return;
      if (c.sidecar) {
        void this.loop(c);
        await this.until(() => c.started || c.done);
        continue;
      }
      const ok = await this.runToCompletion(c);
      if (!ok) {
        if (!this.stop.signal.aborted && this.restartPolicy === 'Never') {
          this.phaseOverride = { phase: 'Failed' };
          for (const m of this.main) m.done = true;
          this.finishSidecars();
        }
        this.queueStatus();
        return;
      }
    }
    this.initialized = true;
    this.queueStatus();
    await Promise.all(this.main.map((c) => this.loop(c)));
    this.finishSidecars();
    this.queueStatus();
  }

  /** Folders, volumes and the API credentials; retried while a volume is not ready, as the kubelet does. */
  private async setUp(): Promise<boolean> {
    let reported = '';
    while (!this.stop.signal.aborted) {
      try {
        this.volumes = await materializeVolumes(this.podView(), this.dir, this.volumeSources());
        await this.writeKubeconfig();
        return true;
      } catch (err) {
        const message = (err as Error).message;
        if (message !== reported) {
          reported = message;
          this.log(`volumes not ready: ${message}`);
          void this.event('Warning', 'FailedMount', message);
        }
        if (err instanceof ConfigError) {
          for (const c of [...this.init, ...this.main]) c.state = { waiting: { reason: 'CreateContainerConfigError', message } };
          this.queueStatus();
        }
        if (!(err instanceof VolumeNotReady || err instanceof ConfigError || err instanceof ApiError)) throw err;
        await sleep(2000, this.stop.signal);
      }
    }
    return false;
  }

  /** Runs an init container until it exits 0; restarts it per the pod's policy. False when it failed for good. */
  private async runToCompletion(c: ContainerRun): Promise<boolean> {
    let backoff = BACKOFF_BASE_MS;
    while (!this.stop.signal.aborted) {
      const t = await this.runOnce(c);
      if (!t) return false;
      if (t.exitCode === 0) {
        c.done = true;
        return true;
      }
      if (this.restartPolicy === 'Never' || this.stop.signal.aborted) break;
      backoff = await this.backOff(c, backoff);
    }
    c.done = true;
    return false;
  }

  /** Runs a container, restarting it per the restart policy until the pod stops. */
  private async loop(c: ContainerRun): Promise<void> {
    let backoff = BACKOFF_BASE_MS;
    while (!this.stop.signal.aborted && !c.done) {
      const started = Date.now();
      const t = await this.runOnce(c);
      if (!t || this.stop.signal.aborted || c.done) break;
      const policy = c.sidecar ? 'Always' : this.restartPolicy;
      if (policy === 'Never' || (policy === 'OnFailure' && t.exitCode === 0)) break;
      if (Date.now() - started > BACKOFF_RESET_MS) backoff = BACKOFF_BASE_MS;
      backoff = await this.backOff(c, backoff);
    }
    c.done = true;
    this.queueStatus();
  }

  private async backOff(c: ContainerRun, backoff: number): Promise<number> {
    const message = `back-off ${Math.round(backoff / 1000)}s restarting failed container=${c.name} pod=${this.name}_${this.ns}(${this.uid})`;
    c.lastState = c.state;
    c.state = { waiting: { reason: 'CrashLoopBackOff', message } };
    this.queueStatus();
    void this.event('Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${this.name}_${this.ns}(${this.uid})`, c);
    await sleep(backoff, this.stop.signal);
    c.restartCount++;
    return Math.min(backoff * 2, BACKOFF_MAX_MS);
  }

  /** Resolves when the predicate holds (checked on every status change) or the pod stops. */
  private async until(pred: () => boolean): Promise<void> {
    while (!pred() && !this.stop.signal.aborted) await sleep(100, this.stop.signal);
  }

  private finishSidecars(): void {
    for (const c of this.init.filter((x) => x.sidecar)) {
      c.done = true;
      if (c.current) void this.killInstance(c, this.graceSeconds());
    }
  }

  // ---------------------------------------------------------------- one container instance

  /** Starts the container once and waits for it to exit. Undefined if the pod stopped before it could start. */
  private async runOnce(c: ContainerRun): Promise<Terminated | undefined> {
    let launch: Launch | undefined;
    let reported = '';
    while (!this.stop.signal.aborted) {
      try {
        launch = await this.prepareLaunch(c);
        break;
      } catch (err) {
        const isImage = err instanceof ImageError;
        const reason = isImage ? (reported ? 'ImagePullBackOff' : 'ErrImagePull') : 'CreateContainerConfigError';
        const message = (err as Error).message;
        if (!(err instanceof ConfigError || isImage || err instanceof ApiError)) throw err;
        c.state = { waiting: { reason, message } };
        this.queueStatus();
        if (message !== reported) {
          this.log(`container ${c.name}: ${reason}: ${message}`);
          void this.event('Warning', 'Failed', `Error: ${message}`, c);
          reported = message;
        }
        await sleep(isImage ? 5000 : 2000, this.stop.signal);
      }
    }
    if (!launch || this.stop.signal.aborted) return undefined;

    const logFile = path.join(c.dir, `${c.restartCount}.log`);
    c.logFiles[c.restartCount] = logFile;
    fs.writeFileSync(logFile, '');
    fs.writeFileSync(launch.terminationLog, '');
    const logs = new ContainerLogWriter(logFile);
    const startedAt = kubeTime();
    let proc: ChildProcess;
    try {
      proc = spawn(launch.argv[0], launch.argv.slice(1), {
        cwd: launch.cwd,
        env: launch.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      logs.note('stderr', `kubelet stand-in: cannot start ${launch.argv[0]}: ${(err as Error).message}`);
      await logs.close();
      return this.recordExit(c, launch, { exitCode: 128, reason: 'StartError', message: (err as Error).message, startedAt, finishedAt: kubeTime() });
    }
    logs.attach(proc.stdout!, 'stdout');
    logs.attach(proc.stderr!, 'stderr');
    const pgidFile = proc.pid ? path.join(this.deps.pgidDir, String(proc.pid)) : undefined;
    if (pgidFile) fs.writeFileSync(pgidFile, `${this.ns}/${this.name}/${c.name}\n`);
    const exited = new Promise<Terminated>((resolve) => {
      let spawnError: Error | undefined;
      proc.once('error', (err) => {
        spawnError = err;
        // 'error' without 'close' happens when the executable is missing.
        if (proc.pid === undefined) finish(127, null);
      });
      proc.once('close', (code, signal) => finish(code, signal));
      let finished = false;
      function finish(code: number | null, signal: NodeJS.Signals | null) {
        if (finished) return;
        finished = true;
        const sig = signal ? (SIGNALS[signal] ?? 9) : undefined;
        const exitCode = code ?? (sig !== undefined ? 128 + sig : 1);
        resolve({
          exitCode,
          ...(sig !== undefined ? { signal: sig } : {}),
          reason: spawnError && proc.pid === undefined ? 'StartError' : exitCode === 0 ? 'Completed' : 'Error',
          ...(spawnError && proc.pid === undefined ? { message: spawnError.message } : {}),
          startedAt,
          finishedAt: kubeTime(),
        });
      }
    });
    const inst: Instance = { proc, logs, exited, probes: new AbortController() };
    c.current = inst;
    c.everStarted = true;
    c.state = { running: { startedAt } };
    c.started = !c.spec.startupProbe;
    c.ready = c.started && !c.spec.readinessProbe && !c.init;
    if (c.sidecar) c.ready = c.started && !c.spec.readinessProbe;
    this.queueStatus();
    void this.event('Normal', 'Started', `Started container ${c.name}`, c);
    if (!c.init || c.sidecar) this.startProbes(c, inst);

    const t = await exited;
    inst.probes.abort();
    await logs.close();
    if (pgidFile) fs.rmSync(pgidFile, { force: true });
    c.current = undefined;
    if (inst.killedBy && t.exitCode !== 0) t.message = inst.killedBy;
    return this.recordExit(c, launch, t);
  }

  private recordExit(c: ContainerRun, launch: Launch, t: Terminated): Terminated {
    t.containerID = c.containerID();
    let message = readMessage(launch.terminationLog);
    if (!message && t.exitCode !== 0 && c.spec.terminationMessagePolicy === 'FallbackToLogsOnError') {
      const file = c.logFiles[c.restartCount];
      message = file ? fallbackMessage(parseLog(fs.readFileSync(file, 'utf8'))) : '';
    }
    if (message) t.message = message;
    c.state = { terminated: t };
    c.ready = false;
    c.started = false;
    this.queueStatus();
    this.log(`container ${c.name} exited ${t.exitCode}${t.message ? `: ${t.message.split('\n')[0].slice(0, 200)}` : ''}`);
    return t;
  }

  // ---------------------------------------------------------------- probes

  private startProbes(c: ContainerRun, inst: Instance): void {
    const signal = inst.probes.signal;
    const podIP = this.podIP!;
    const noteExec = (p: any) => {
      if (p?.exec && !c.execProbeNoted) {
        c.execProbeNoted = true;
        this.log(`container ${c.name}: exec probe counted as passing (the stand-in cannot exec into a container)`);
      }
    };
    const every = async (probe: any, onResult: (ok: boolean, msg: string, fails: number, oks: number) => boolean | void) => {
      noteExec(probe);
      await sleep((probe.initialDelaySeconds ?? 0) * 1000, signal);
      let fails = 0;
      let oks = 0;
      while (!signal.aborted) {
        const r = await runProbe(probe, podIP, c.spec);
        if (signal.aborted) return;
        if (r.ok) {
          oks++;
          fails = 0;
        } else {
          fails++;
          oks = 0;
        }
        if (onResult(r.ok, r.message, fails, oks) === false) return;
        await sleep((probe.periodSeconds ?? 10) * 1000, signal);
      }
    };
    const afterStartup = async () => {
      const readiness = c.spec.readinessProbe;
      const liveness = c.spec.livenessProbe;
      if (readiness) {
        void every(readiness, (ok, msg, fails, oks) => {
          if (ok && oks >= (readiness.successThreshold ?? 1) && !c.ready) {
            c.ready = true;
            this.queueStatus();
          } else if (!ok && fails >= (readiness.failureThreshold ?? 3) && c.ready) {
            c.ready = false;
            this.queueStatus();
          }
          if (!ok && fails === (readiness.failureThreshold ?? 3)) void this.event('Warning', 'Unhealthy', `Readiness probe failed: ${msg}`, c);
        });
      } else if (!c.ready) {
        c.ready = true;
        this.queueStatus();
      }
      if (liveness) {
        void every(liveness, (ok, msg, fails) => {
          if (!ok && fails >= (liveness.failureThreshold ?? 3)) {
            void this.event('Warning', 'Unhealthy', `Liveness probe failed: ${msg}`, c);
            inst.killedBy = `liveness probe failed: ${msg}`;
            void this.killInstance(c, liveness.terminationGracePeriodSeconds ?? this.graceSeconds());
            return false;
          }
        });
      }
    };
    const startup = c.spec.startupProbe;
    if (!startup) {
      void afterStartup();
      return;
    }
    void every(startup, (ok, msg, fails) => {
      if (ok) {
        c.started = true;
        this.queueStatus();
        void afterStartup();
        return false;
      }
      if (fails >= (startup.failureThreshold ?? 3)) {
        void this.event('Warning', 'Unhealthy', `Startup probe failed: ${msg}`, c);
        inst.killedBy = `startup probe failed: ${msg}`;
        void this.killInstance(c, startup.terminationGracePeriodSeconds ?? this.graceSeconds());
        return false;
      }
    });
  }

  // ---------------------------------------------------------------- stopping

  private graceSeconds(): number {
    return this.pod.spec.terminationGracePeriodSeconds ?? 30;
  }

  /** SIGTERM the container's process group, SIGKILL after the grace period; resolves when it has exited. */
  private async killInstance(c: ContainerRun, graceSeconds: number): Promise<void> {
    const inst = c.current;
    if (!inst || inst.proc.pid === undefined) return;
    const pid = inst.proc.pid;
    signalGroup(pid, 'SIGTERM');
    const grace = Math.min(Math.max(graceSeconds, 0), MAX_GRACE_SECONDS) * 1000;
    const killed = await Promise.race([inst.exited.then(() => false), sleep(grace).then(() => true)]);
    if (killed) {
      signalGroup(pid, 'SIGKILL');
      await Promise.race([inst.exited, sleep(5000)]);
    }
    // Children that left the group's leader behind (a shell's background jobs) go too.
    signalGroup(pid, 'SIGKILL');
  }

  private async deadlineExceeded(): Promise<void> {
    if (this.stop.signal.aborted || this.phaseOverride) return;
    this.phaseOverride = { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' };
    void this.event('Normal', 'DeadlineExceeded', this.phaseOverride.message!);
    await this.terminate(this.graceSeconds(), false);
  }

  /**
   * Stops every container (no more restarts) and, when the pod is being deleted, writes the terminal status and
   * deletes the pod object with grace period 0, as the kubelet does once its containers are gone.
   */
  terminate(graceSeconds: number, deleteObject: boolean): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        this.stop.abort();
        if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
        const all = [...this.init, ...this.main];
        const live = all.filter((c) => c.current);
        if (live.length) {
          for (const c of live) void this.event('Normal', 'Killing', `Stopping container ${c.name}`, c);
          await Promise.all(live.map((c) => this.killInstance(c, graceSeconds)));
        }
        await Promise.race([this.running, sleep(10_000)]);
        for (const c of all) {
          c.done = true;
          c.ready = false;
          if ('waiting' in c.state && !c.everStarted) {
            // Never started: the kubelet reports such containers as terminated with ContainerStatusUnknown.
            c.state = { terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated', startedAt: kubeTime(), finishedAt: kubeTime() } };
          }
        }
        this.queueStatus();
        await this.flushStatus();
        if (deleteObject) await this.deletePodObject();
      })().catch((err) => this.log(`terminate failed: ${(err as Error).message}`));
    }
    return this.stopping;
  }

  private async deletePodObject(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.deps.api.request('DELETE', `/api/v1/namespaces/${this.ns}/pods/${this.name}`, {
          body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
        });
        return;
      } catch (err) {
        if (isStatus(err, 404, 409)) return;
        this.log(`delete failed: ${(err as Error).message}`);
        await sleep(500 * (attempt + 1));
      }
    }
  }

  /** The pod object is gone: kill anything left, free the address and the folders. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.terminate(0, false);
    if (this.podIP && !this.pod.spec.hostNetwork) this.deps.ipam.release(this.podIP);
    this.deps.resolve.delete(this.uid);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stand-in shutdown: kill processes quickly, leave the API alone. */
  async shutdown(graceSeconds: number): Promise<void> {
    this.disposed = true;
    this.stop.abort();
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    await Promise.all([...this.init, ...this.main].filter((c) => c.current).map((c) => this.killInstance(c, graceSeconds)));
  }

  // ---------------------------------------------------------------- launch

  /** The pod as the downward API should see it: the addresses are known here before the API has them. */
  private podView(): any {
    const ips = this.podIP ? { podIP: this.podIP, podIPs: [{ ip: this.podIP }] } : {};
    return { ...this.pod, status: { ...this.pod.status, hostIP: this.deps.node.hostIP, hostIPs: [{ ip: this.deps.node.hostIP }], ...ips } };
  }

  private volumeSources(): VolumeSources & EnvSources {
    const api = this.deps.api;
    return {
      configMap: (ns, name) => api.getOptional(`/api/v1/namespaces/${ns}/configmaps/${name}`),
      secret: (ns, name) => api.getOptional(`/api/v1/namespaces/${ns}/secrets/${name}`),
      pvc: (ns, name) => api.getOptional(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`),
      pv: (name) => api.getOptional(`/api/v1/persistentvolumes/${name}`),
      token: (pod, audience, expirationSeconds) => this.requestToken(pod, audience, expirationSeconds),
      allocatable: this.deps.node.allocatable,
    };
  }

  private async requestToken(pod: any, audience: string | undefined, expirationSeconds: number): Promise<string> {
    const sa = pod.spec.serviceAccountName || 'default';
    const res = await this.deps.api.request('POST', `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`, {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: audience ? [audience] : [],
          expirationSeconds: Math.max(expirationSeconds, 600),
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
        },
      },
    });
    return res.status.token;
  }

  /**
   * A kubeconfig holding a token of the pod's own service account (TokenRequest, bound to the pod), unless the pod
   * or its service account opts out of automounting; every API call of the process then passes through RBAC.
   */
  private async writeKubeconfig(): Promise<void> {
    const sa = this.pod.spec.serviceAccountName || 'default';
    let automount = this.pod.spec.automountServiceAccountToken;
    if (automount === undefined) {
      const saObj = await this.deps.api.getOptional(`/api/v1/namespaces/${this.ns}/serviceaccounts/${sa}`);
      automount = saObj?.automountServiceAccountToken ?? true;
    }
    if (!automount) {
      this.kubeconfigFile = undefined;
      return;
    }
    const token = await this.requestToken(this.pod, undefined, 3600);
    const file = path.join(this.dir, 'kubeconfig');
    const ca = Buffer.from(this.deps.api.caPem).toString('base64');
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: this.deps.api.server.origin, 'certificate-authority-data': ca } }],
      users: [{ name: `system:serviceaccount:${this.ns}:${sa}`, user: { token } }],
      contexts: [{ name: 'pod', context: { cluster: 'e2e', user: `system:serviceaccount:${this.ns}:${sa}`, namespace: this.ns } }],
      'current-context': 'pod',
    };
    fs.writeFileSync(file, JSON.stringify(doc, null, 1), { mode: 0o600 });
    this.kubeconfigFile = file;
  }

  private envOverrides(): Record<string, string> {
    const file = this.deps.envOverridesFile;
    if (!file || !fs.existsSync(file)) return {};
    try {
      const all = JSON.parse(fs.readFileSync(file, 'utf8'));
      const mine = all?.[`${this.ns}/${this.name}`] ?? {};
      return Object.fromEntries(Object.entries(mine).map(([k, v]) => [k, String(v)]));
    } catch (err) {
      this.log(`ignoring ${file}: ${(err as Error).message}`);
      return {};
    }
  }

  private async prepareLaunch(c: ContainerRun): Promise<Launch> {
    const mapping = mapImage(c.spec.image ?? '');
    if (!mapping.ok) throw new ImageError(mapping.reason);
    const vars = await resolveEnv(this.podView(), c.spec, this.volumeSources(), this.deps.node.allocatable);
    const terminationLog = path.join(c.dir, 'termination-log');
    const home = path.join(c.dir, 'home');
    fs.mkdirSync(home, { recursive: true });
    const mappings: PathMapping[] = [{ containerPath: c.spec.terminationMessagePath ?? '/dev/termination-log', hostPath: terminationLog }];
    for (const m of c.spec.volumeMounts ?? []) {
      const vol = this.volumes.get(m.name);
      if (!vol) throw new ConfigError(`volumeMount ${m.name}: no such volume`);
      const sub = m.subPathExpr ? expand(m.subPathExpr, vars) : m.subPath;
      let host = vol;
      if (sub) {
        host = path.resolve(vol, sub);
        if (!host.startsWith(path.resolve(vol))) throw new ConfigError(`subPath ${sub} escapes volume ${m.name}`);
        if (!fs.existsSync(host)) fs.mkdirSync(host, { recursive: true });
      }
      mappings.push({ containerPath: m.mountPath, hostPath: host });
    }
    const map = (s: string) => mapPaths(expand(s, vars), mappings);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      HOSTNAME: this.pod.spec.hostname || this.name,
      STANDIN_POD_IP: this.podIP!,
      TERMINATION_MESSAGE_PATH: terminationLog,
      QDRANT_EMULATOR_RESOLVE_FILE: this.deps.resolve.file,
    };
    for (const [k, v] of vars) env[k] = mapPaths(v, mappings);
    Object.assign(env, this.envOverrides());
    if (this.kubeconfigFile && mapping.kind !== 'qdrant') env.KUBECONFIG = this.kubeconfigFile;
    const command: string[] | undefined = c.spec.command?.map(map);
    const args: string[] = (c.spec.args ?? []).map(map);
    const workingDir = c.spec.workingDir ? map(c.spec.workingDir) : undefined;
    const binDir = path.join(c.dir, 'bin');
    fs.mkdirSync(binDir, { recursive: true });
    env.PATH = `${binDir}:${env.PATH}`;
    const node = process.execPath;
    const cwdOr = (d: string) => (workingDir && workingDir.startsWith('/') && fs.existsSync(workingDir) ? workingDir : d);
    const entry = (entrypoint: string, script: string, pre: string[] = []): string[] => {
      // The image's entrypoint is a host program: run it directly when the command names it, else via a shim on PATH.
      writeShim(path.join(binDir, entrypoint), [node, ...pre, script]);
      if (!command || command.length === 0) return [node, ...pre, script, ...args];
      if (command[0] === entrypoint || command[0].endsWith(`/${entrypoint}`)) return [node, ...pre, script, ...command.slice(1), ...args];
      return [...command, ...args];
    };

    switch (mapping.kind) {
      case 'hook': {
        // STANDIN_HOOK_BUNDLE lets a developer point the stand-in at another build of the CLI.
        const bundle = process.env.STANDIN_HOOK_BUNDLE || path.join(this.deps.repo, 'dist', 'qdrant-upgrade-guard.mjs');
        if (!fs.existsSync(bundle)) throw new ImageError(`${mapping.ref.image}: the hook bundle ${bundle} is missing (run \`make bundle\`)`);
        return { argv: entry('qdrant-upgrade-guard', bundle), cwd: cwdOr(home), env, terminationLog };
      }
      case 'sleeper': {
        const script = path.join(this.deps.repo, 'test', 'cluster', 'images', 'sleeper.mjs');
        return { argv: entry('sleeper', script), cwd: cwdOr(home), env, terminationLog };
      }
      case 'shell': {
        const argv = command && command.length ? [...command, ...args] : args.length ? ['sh', ...args] : ['sh', '-c', 'true'];
        return { argv, cwd: cwdOr(home), env, terminationLog };
      }
      case 'qdrant':
        return await this.qdrantLaunch(c, mapping, mappings, command, args, env, terminationLog);
    }
  }

  /**
   * Qdrant runs in a private root laid out as the official image's `/qdrant`: `<root>/qdrant` is the working dir,
   * each volume mount is a symlink at its mount path below the root (config, storage, snapshots, init...), and
   * `<root>/qdrant/entrypoint.sh` is a shim that execs the real Qdrant binary of the tag's version (QDRANT_BIN_DIR)
   * or the Qdrant emulator (qdrantRuntimeChoice). The chart's `bash -c ./config/initialize.sh` runs as written.
   */
  private async qdrantLaunch(
    c: ContainerRun,
    mapping: Extract<ImageMapping, { ok: true }>,
    mappings: PathMapping[],
    command: string[] | undefined,
    args: string[],
    env: Record<string, string>,
    terminationLog: string,
  ): Promise<Launch> {
    const runtime = await this.qdrantRuntime(mapping);
    const emulator = path.join(this.deps.repo, 'test', 'support', 'qdrant-emulator', 'main.ts');
    if (runtime.kind === 'emulator' && !fs.existsSync(emulator)) throw new ImageError(`${mapping.ref.image}: the Qdrant emulator ${emulator} is missing`);
    const root = path.join(c.dir, 'root');
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(path.join(root, 'qdrant'), { recursive: true });
    const byDepth = (c.spec.volumeMounts ?? []).map((m: any) => m.mountPath as string).sort((a: string, b: string) => a.length - b.length);
    for (const mountPath of byDepth) {
      const host = mappings.find((m) => m.containerPath === mountPath)!.hostPath;
      const link = path.join(root, mountPath);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.rmSync(link, { recursive: true, force: true });
      fs.symlinkSync(host, link);
    }
    const hostOf = (p: string) => {
      const m = mappings.find((x) => x.containerPath.replace(/\/+$/, '') === p);
      if (m) return m.hostPath;
      const d = path.join(root, p);
      fs.mkdirSync(d, { recursive: true });
      return d;
    };
    const storage = hostOf('/qdrant/storage');
    const snapshots = hostOf('/qdrant/snapshots');
    const entrypoint = path.join(root, 'qdrant', 'entrypoint.sh');
    const q = shellQuote;
    if (runtime.kind === 'real') {
      const hosts = this.deps.resolve.hostsFile;
      if (!hosts) throw new ImageError(`${mapping.ref.image}: the stand-in keeps no hosts file, so real Qdrant could not resolve its peers`);
      // The official image sets these (Dockerfile `ENV TZ=Etc/UTC RUN_MODE=production`): production.yaml applies.
      env.TZ ??= 'Etc/UTC';
      env.RUN_MODE ??= 'production';
      // In a pod Qdrant binds 0.0.0.0 of its own network namespace; here every pod shares the host's, so each binds
      // its pod IP (HTTP, gRPC and p2p all follow service.host) and three peers can use 6333-6335 side by side.
      env.QDRANT__SERVICE__HOST = this.podIP!;
      // No network leaves this machine: the telemetry reporter would only log failures.
      env.QDRANT__TELEMETRY_DISABLED ??= 'true';
      fs.writeFileSync(
        entrypoint,
        [
          '#!/bin/sh',
          `# Written by the kubelet stand-in: ${mapping.ref.image} runs the real Qdrant ${runtime.version} binary ${runtime.binary}.`,
          '# Peer URIs name pods (<pod>.<headless service>), which Qdrant resolves through the system resolver: in a',
          "# mount namespace of its own, the stand-in's hosts file (pod names -> pod IPs) is bind-mounted over /etc/hosts.",
          '# Not done: the image entrypoint\'s recovery mode (QDRANT_ALLOW_RECOVERY_MODE).',
          `exec unshare --mount --propagation private -- /bin/sh -c 'mount --bind "$0" /etc/hosts || { echo "kubelet stand-in: cannot bind-mount $0 over /etc/hosts (the stand-in must run as root)" >&2; exit 1; }; exec "$@"' ${q(hosts)} ${q(runtime.binary)} "$@"`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
    } else {
      fs.writeFileSync(
        entrypoint,
        [
          '#!/bin/sh',
          `# Written by the kubelet stand-in: ${mapping.ref.image} runs the Qdrant emulator (a test double) at ${mapping.qdrantVersion}.`,
          `exec ${q(process.execPath)} --import ${q(this.deps.tsxImport)} ${q(emulator)} --host ${q(this.podIP!)} --storage ${q(storage)} --snapshots ${q(snapshots)} --version ${q(mapping.qdrantVersion!)} "$@"`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
    }
    const ran = runtime.kind === 'real' ? `real ${runtime.version} ${runtime.binary}` : `emulator ${mapping.qdrantVersion}`;
    this.log(`container ${c.name}: ${mapping.ref.image} runs ${runtime.kind === 'real' ? 'the real Qdrant binary' : 'the Qdrant emulator'} (${ran})`);
    await this.annotate(QDRANT_RAN_ANNOTATION, ran);
    const cwd = path.join(root, c.spec.workingDir ?? '/qdrant');
    fs.mkdirSync(cwd, { recursive: true });
    const argv = command && command.length ? [...command, ...args] : ['./entrypoint.sh', ...args];
    return { argv, cwd, env, terminationLog };
  }

  /** The real binary for the tag's version when the pod (or the stand-in's default) allows it and it is there. */
  private async qdrantRuntime(
    mapping: Extract<ImageMapping, { ok: true }>,
  ): Promise<{ kind: 'real'; version: string; binary: string } | { kind: 'emulator' }> {
    const choice = qdrantRuntimeChoice(this.pod.metadata.annotations, process.env.STANDIN_QDRANT);
    if (!choice.ok) throw new ImageError(choice.reason);
    if (choice.choice === 'emulator') return { kind: 'emulator' };
    const version = mapping.qdrantVersion!;
    let binary: string | undefined;
    try {
      binary = (await resolveQdrantBinary(version))?.path;
    } catch (err) {
      // A binary that is there but wrong (sha256 differs from SOURCES.md, xz failed) is never silently replaced.
      throw new ImageError(`${mapping.ref.image}: ${(err as Error).message}`);
    }
    if (binary) return { kind: 'real', version, binary };
    if (choice.choice === 'real') {
      const dir = qdrantBinDir();
      throw new ImageError(
        `${mapping.ref.image}: the pod asks for the real Qdrant ${version}, but ${dir ? `QDRANT_BIN_DIR=${dir} has no qdrant-v${version}[.xz] or v${version}/qdrant` : 'QDRANT_BIN_DIR is not set in the stand-in\'s environment (set it before test/cluster/up.sh)'}`,
      );
    }
    return { kind: 'emulator' };
  }

  /** Best effort: a test reads which Qdrant ran from the pod; a failed patch only loses that note. */
  private async annotate(key: string, value: string): Promise<void> {
    if (this.pod.metadata.annotations?.[key] === value) return;
    try {
      await this.deps.api.strategicPatch(`/api/v1/namespaces/${this.ns}/pods/${this.name}`, { metadata: { annotations: { [key]: value } } });
    } catch (err) {
      this.log(`annotating ${key} failed: ${(err as Error).message}`);
    }
  }

  // ---------------------------------------------------------------- status

  private condition(type: string, ok: boolean, reason?: string): any {
    const status = ok ? 'True' : 'False';
    const prev = this.conditionTimes.get(type);
    const time = prev && prev.status === status ? prev.time : kubeTime();
    this.conditionTimes.set(type, { status, time });
    return { type, status, lastProbeTime: null, lastTransitionTime: time, ...(reason && !ok ? { reason } : {}) };
  }

  phase(): string {
    if (this.phaseOverride) return this.phaseOverride.phase;
    if (!this.initialized) return 'Pending';
    const finished = this.main.every((c) => c.done && 'terminated' in c.state);
    if (finished) return this.main.every((c) => 'terminated' in c.state && c.state.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
    if (this.main.some((c) => c.everStarted)) return 'Running';
    return 'Pending';
  }

  private buildStatus(): any {
    const phase = this.phase();
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    const containersReady = !terminal && this.main.every((c) => c.ready);
    const gates: string[] = (this.pod.spec.readinessGates ?? []).map((g: any) => g.conditionType);
    const gatesOk = gates.every((t) => (this.pod.status?.conditions ?? []).some((x: any) => x.type === t && x.status === 'True'));
    const notReadyReason = terminal ? 'PodCompleted' : containersReady ? 'ReadinessGatesNotReady' : 'ContainersNotReady';
    const ip = this.podIP ? { podIP: this.podIP, podIPs: [{ ip: this.podIP }] } : {};
    return {
      phase,
      ...(this.phaseOverride?.reason ? { reason: this.phaseOverride.reason, message: this.phaseOverride.message } : {}),
      conditions: [
        this.condition('PodReadyToStartContainers', !!this.podIP && !terminal),
        this.condition('Initialized', this.initialized, 'ContainersNotInitialized'),
        this.condition('ContainersReady', containersReady, terminal ? 'PodCompleted' : 'ContainersNotReady'),
        this.condition('Ready', containersReady && gatesOk, notReadyReason),
      ],
      hostIP: this.deps.node.hostIP,
      hostIPs: [{ ip: this.deps.node.hostIP }],
      ...ip,
      ...(this.startTime ? { startTime: this.startTime } : {}),
      ...(this.init.length ? { initContainerStatuses: this.init.map((c) => c.status()) } : {}),
      containerStatuses: this.main.map((c) => c.status()),
    };
  }

  /** Marks the status dirty; one writer loop sends the newest status (coalescing bursts). */
  queueStatus(): void {
    this.statusDirty = true;
    if (!this.statusLoop) this.statusLoop = this.statusWriter().finally(() => (this.statusLoop = undefined));
  }

  /** Waits (at most 20s) until the newest status has been written. */
  private async flushStatus(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!this.disposed && (this.statusLoop || this.statusDirty) && Date.now() < deadline) {
      if (!this.statusLoop && this.statusDirty) this.queueStatus();
      await Promise.race([this.statusLoop, sleep(Math.max(0, deadline - Date.now()))]);
    }
  }

  private async statusWriter(): Promise<void> {
    let failures = 0;
    while (this.statusDirty && !this.disposed) {
      this.statusDirty = false;
      const status = this.buildStatus();
      const json = JSON.stringify(status);
      if (json === this.lastStatusJson) continue;
      try {
        const updated = await this.deps.api.strategicPatch(`/api/v1/namespaces/${this.ns}/pods/${this.name}/status`, { metadata: { uid: this.uid }, status });
        if (updated?.metadata?.uid === this.uid) this.pod = { ...this.pod, status: updated.status };
        this.lastStatusJson = json;
        failures = 0;
      } catch (err) {
        if (isStatus(err, 404) || isStatus(err, 409)) return; // gone, or replaced by a pod of the same name
        failures++;
        this.log(`status update failed (${failures}): ${(err as Error).message}`);
        this.statusDirty = true;
        if (failures >= 10) return;
        await sleep(Math.min(200 * 2 ** failures, 5000));
      }
    }
  }

  private async event(type: 'Normal' | 'Warning', reason: string, message: string, c?: ContainerRun): Promise<void> {
    const now = kubeTime();
    try {
      await this.deps.api.request('POST', `/api/v1/namespaces/${this.ns}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${this.name}.`, namespace: this.ns },
          involvedObject: {
            apiVersion: 'v1',
            kind: 'Pod',
            namespace: this.ns,
            name: this.name,
            uid: this.uid,
            ...(c ? { fieldPath: `spec.${c.init ? 'initContainers' : 'containers'}{${c.name}}` } : {}),
          },
          reason,
          message,
          type,
          source: { component: 'kubelet', host: this.deps.node.name },
          reportingComponent: 'kubelet',
          reportingInstance: this.deps.node.name,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch {
      // Events are best effort, as in the kubelet.
    }
  }

  // ---------------------------------------------------------------- logs

  /** The log of a container instance: the current (or last) one, or the one before with `previous`. */
  logTarget(container: string, previous: boolean): LogTarget | { error: string; status: number } {
    const c = [...this.init, ...this.main].find((x) => x.name === container);
    if (!c) return { status: 404, error: `container ${container} is not valid for pod ${this.name}` };
    if (previous) {
      // In back-off the last instance is the previous one (lastState); otherwise the one before the current.
      const idx = 'waiting' in c.state ? c.restartCount : c.restartCount - 1;
      const file = idx >= 0 ? c.logFiles[idx] : undefined;
      if (!file || !fs.existsSync(file)) return { status: 400, error: `previous terminated container "${container}" in pod "${this.name}" not found` };
      return { file, finished: Promise.resolve(), running: false };
    }
    let idx = c.restartCount;
    if (!c.logFiles[idx]) idx = c.logFiles.length - 1;
    const file = idx >= 0 ? c.logFiles[idx] : undefined;
    if (!file || !fs.existsSync(file)) {
      const reason = 'waiting' in c.state ? c.state.waiting.reason : 'ContainerCreating';
      return { status: 400, error: `container "${container}" in pod "${this.name}" is waiting to start: ${reason}` };
    }
    const inst = idx === c.restartCount ? c.current : undefined;
    return { file, running: !!inst, finished: inst ? inst.exited.then(() => sleep(100)) : Promise.resolve() };
  }
}

class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

interface Launch {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  terminationLog: string;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function readMessage(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(TERMINATION_MESSAGE_MAX);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function writeShim(file: string, argv: string[]): void {
  fs.writeFileSync(file, `#!/bin/sh\nexec ${argv.map(shellQuote).join(' ')} "$@"\n`, { mode: 0o755 });
}
