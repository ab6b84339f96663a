// Watches every pod and runs those bound to the stand-in's nodes, one PodWorker each.
import type { Api } from './api.js';
import { Informer } from './informer.js';
import { PodWorker, type LogTarget, type WorkerDeps } from './pod-worker.js';
import type { Logger } from './util.js';

export class PodManager {
  private readonly workers = new Map<string, PodWorker>();
  private readonly byName = new Map<string, PodWorker>();
  private informer!: Informer;

  constructor(
    private readonly api: Api,
    private readonly nodes: Map<string, WorkerDeps>,
    private readonly log: Logger,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    this.informer = new Informer(this.api, '/api/v1/pods', { upsert: (p) => this.upsert(p), remove: (p) => this.remove(p) }, this.log);
    await this.informer.run(signal);
  }

  private upsert(pod: any): void {
    const deps = this.nodes.get(pod.spec.nodeName);
    if (!deps) return;
    const uid: string = pod.metadata.uid;
    let w = this.workers.get(uid);
    if (w) return w.update(pod);
    w = new PodWorker(pod, deps);
    this.workers.set(uid, w);
    this.byName.set(`${pod.metadata.namespace}/${pod.metadata.name}`, w);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      // Finished before this stand-in started: nothing to run, only its deletion to complete.
      if (pod.metadata.deletionTimestamp) void w.terminate(0, true);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      void w.terminate(0, true);
      return;
    }
    this.log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: starting on ${pod.spec.nodeName}`);
    w.start();
  }

  private remove(pod: any): void {
    const uid: string = pod.metadata.uid;
    const w = this.workers.get(uid);
    if (!w) return;
    this.workers.delete(uid);
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (this.byName.get(key) === w) this.byName.delete(key);
    this.log(`pod ${key}: deleted`);
    void w.dispose();
  }

  logTarget(namespace: string, pod: string, container: string, previous: boolean): LogTarget | { error: string; status: number } {
    const w = this.byName.get(`${namespace}/${pod}`);
    if (!w) return { status: 404, error: `pod ${namespace}/${pod} not found on this kubelet` };
    return w.logTarget(container, previous);
  }

  /** Stand-in shutdown: every pod process gets SIGTERM, then SIGKILL after `graceSeconds`. */
  async shutdown(graceSeconds: number): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.shutdown(graceSeconds)));
  }
}
