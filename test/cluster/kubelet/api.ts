// A small JSON client for the kubelet stand-in. @kubernetes/client-node loads the kubeconfig and supplies the TLS
// material; requests go through node:https directly so that status patches keep every field as sent (the generated
// client re-serializes objects through its models) and watches have explicit timeouts.
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 300)}`);
    this.name = 'ApiError';
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: any;
}

export class Api {
  private constructor(
    readonly server: URL,
    private readonly tls: https.RequestOptions,
    private readonly agent: https.Agent,
    readonly caPem: string,
  ) {}

  static async fromKubeconfig(file: string): Promise<Api> {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`${file}: no current cluster`);
    const tls: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(tls);
    const caPem = tls.ca ? String(tls.ca) : '';
    const agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: tls.ca, cert: tls.cert, key: tls.key });
    return new Api(new URL(cluster.server), tls, agent, caPem);
  }

  close(): void {
    this.agent.destroy();
  }

  private url(path: string, query?: Query): URL {
    const u = new URL(path, this.server);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  /** One request; JSON in and out. Throws ApiError for any non-2xx answer. */
  request<T = any>(
    method: string,
    path: string,
    opts: { body?: unknown; query?: Query; contentType?: string; timeoutMs?: number } = {},
  ): Promise<T> {
    const u = this.url(path, opts.query);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        u,
        {
          ...this.tls,
          agent: this.agent,
          method,
          headers: {
            accept: 'application/json',
            ...(payload !== undefined
              ? { 'content-type': opts.contentType ?? 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          timeout: opts.timeoutMs ?? 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) return reject(new ApiError(status, method, u.pathname, text));
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch (err) {
              reject(new Error(`${method} ${u.pathname}: unparseable answer: ${(err as Error).message}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${u.pathname}: no answer within ${opts.timeoutMs ?? 15_000}ms`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T = any>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  /** GET that answers undefined for 404. */
  async getOptional<T = any>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  strategicPatch<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body, contentType: 'application/strategic-merge-patch+json' });
  }

  mergePatch<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body, contentType: 'application/merge-patch+json' });
  }

  /**
   * Streams watch events until the server closes the stream, `signal` aborts, or no byte (bookmarks included) arrives
   * for `idleMs`. Resolves on a normal end; rejects on errors (an ERROR event with code 410 rejects with ApiError 410).
   */
  watch(path: string, query: Query, onEvent: (e: WatchEvent) => void, signal: AbortSignal, idleMs = 90_000): Promise<void> {
    const u = this.url(path, { ...query, watch: true, allowWatchBookmarks: true });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => finish();
      const req = https.request(u, { ...this.tls, agent: false, method: 'GET', headers: { accept: 'application/json' } }, (res) => {
        if ((res.statusCode ?? 0) !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => finish(new ApiError(res.statusCode ?? 0, 'WATCH', u.pathname, Buffer.concat(chunks).toString())));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            let ev: WatchEvent;
            try {
              ev = JSON.parse(line) as WatchEvent;
            } catch {
              return finish(new Error(`watch ${u.pathname}: unparseable event`));
            }
            if (ev.type === 'ERROR') {
              const code = Number(ev.object?.code ?? 0);
              return finish(new ApiError(code, 'WATCH', u.pathname, JSON.stringify(ev.object)));
            }
            try {
              onEvent(ev);
            } catch (err) {
              return finish(err as Error);
            }
          }
        });
        res.on('end', () => finish());
        res.on('error', (err) => finish(err));
      });
      req.setTimeout(idleMs, () => finish());
      req.on('error', (err) => finish(err));
      signal.addEventListener('abort', onAbort);
      if (signal.aborted) finish();
      req.end();
    });
  }
}

export function isStatus(err: unknown, ...codes: number[]): boolean {
  return err instanceof ApiError && codes.includes(err.status);
}
