// List-then-watch of one resource path, with resync: the stand-in's view of pods, PVCs and PVs.
import { Api, ApiError } from './api.js';
import { sleep } from './util.js';

export interface InformerHandlers {
  upsert(obj: any): void;
  remove(obj: any): void;
}

export class Informer {
  private readonly known = new Map<string, any>();
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];

  constructor(
    private readonly api: Api,
    private readonly path: string,
    private readonly handlers: InformerHandlers,
    private readonly log: (msg: string) => void,
  ) {}

  /** Resolves once the first list has been delivered. */
  waitSynced(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((r) => this.syncWaiters.push(r));
  }

  get(uid: string): any | undefined {
    return this.known.get(uid);
  }

  values(): IterableIterator<any> {
    return this.known.values();
  }

  private deliver(kind: 'upsert' | 'remove', obj: any): void {
    try {
      this.handlers[kind](obj);
    } catch (err) {
      this.log(`informer ${this.path}: handler failed: ${(err as Error).stack ?? err}`);
    }
  }

  /** Runs until the signal aborts. Errors back off (1s doubling to 8s) and relist. */
  async run(signal: AbortSignal): Promise<void> {
    let backoff = 1000;
    while (!signal.aborted) {
      try {
        const list = await this.api.get(this.path);
        const seen = new Set<string>();
        for (const item of list.items ?? []) {
          seen.add(item.metadata.uid);
          this.known.set(item.metadata.uid, item);
          this.deliver('upsert', item);
        }
        for (const [uid, obj] of [...this.known]) {
          if (!seen.has(uid)) {
            this.known.delete(uid);
            this.deliver('remove', obj);
          }
        }
        if (!this.synced) {
          this.synced = true;
          this.syncWaiters.splice(0).forEach((r) => r());
        }
        let rv: string = list.metadata.resourceVersion;
        backoff = 1000;
        // Re-watch from the last version seen until the server says it is too old (410), then relist.
        while (!signal.aborted) {
          await this.api.watch(
            this.path,
            { resourceVersion: rv, timeoutSeconds: 300 },
            (ev) => {
              const obj = ev.object;
              if (obj?.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
              if (ev.type === 'BOOKMARK') return;
              if (ev.type === 'DELETED') {
                this.known.delete(obj.metadata.uid);
                this.deliver('remove', obj);
              } else {
                this.known.set(obj.metadata.uid, obj);
                this.deliver('upsert', obj);
              }
            },
            signal,
          );
        }
      } catch (err) {
        if (signal.aborted) break;
        if (!(err instanceof ApiError && err.status === 410)) {
          this.log(`informer ${this.path}: ${(err as Error).message}; relisting in ${backoff}ms`);
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, 8000);
        }
      }
    }
  }
}
