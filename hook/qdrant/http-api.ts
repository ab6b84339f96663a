/**
 * QdrantApi over HTTP: how the hook commands observe one Qdrant peer by its pod IP
 * (docs/qdrant-facts.md#http-api). Every failure becomes a GuardError('infrastructure') whose message
 * names the pod, the URL, the request and what went wrong, with the API key redacted.
 *
 * Which requests go through @qdrant/js-client-rest, and why not all of them:
 * the client (1.18.0) sends requests through @qdrant/openapi-typescript-fetch 1.2.6, whose terminal
 * step (`fetchJson`) calls the global `fetch` and parses bodies with `JSON.parse(text, reviver)`. The
 * reviver rebuilds unsafe integers as BigInt only when the runtime has `JSON.rawJSON` (JSON.parse
 * source text access); Node 20, our runtime, has not, so there it is a plain JSON.parse and peer ids
 * above 2^53 are silently rounded (11532566549086892528 -> 11532566549086892000, docs/qdrant-facts.md#peer-ids-are-u64). Where the
 * reviver works, the result still mixes number and bigint. QdrantClient takes no custom fetch and no
 * response parser, and its middleware list is fixed inside the constructor, so the parsing cannot
 * be replaced. Responses that carry peer ids, terms or commits (/cluster, /collections/{name}/cluster,
 * /telemetry) are therefore fetched here and parsed with lossless-json.
 * GET / (versionInfo) and GET /collections (names) carry no u64 and use the client.
 * With an injected `fetch` (tests), everything goes through it, since the client cannot take one; so does HTTPS
 * (hook/qdrant/tls.ts: the client cannot be given a CA or the pod-name check).
 *
 * Keys: every request here is a GET, and Qdrant allows each of them with the read-only key (checked against 1.13.5
 * and 1.16.3: /, /readyz, /cluster, /collections, /collections/{name}/cluster, /telemetry), so the read-only key is
 * sent when one is given and the read-write key otherwise (docs/operations.md#api-keys).
 */
import { QdrantClient } from '@qdrant/js-client-rest';
import { GuardError, type GuardErrorOptions } from '../errors.js';
import { DEFAULT_REACH, httpsGet, isCertificateError, isPlainHttpPort, type QdrantReach } from './tls.js';
import { QDRANT_VERSION_FACTS, versionAtLeast } from '../policy/version.js';
import {
  parseLossless,
  ShapeError,
  toClusterStatus,
  toCollectionCluster,
  toCollectionNames,
  toPeerMetadata,
  toVersionInfo,
} from './parse.js';
import type {
  ClusterStatus,
  CollectionCluster,
  PeerEndpoint,
  PeerObservation,
  QdrantApi,
  VersionInfo,
} from './types.js';

export interface HttpQdrantApiOptions {
  /** The read-write key (env QDRANT_API_KEY); never logged, redacted from every message. */
  apiKey?: string;
  /** The read-only key (env QDRANT_READ_ONLY_API_KEY): preferred, since every call only reads. */
  readOnlyApiKey?: string;
  /** Scheme, port and TLS trust (default http on 6333). */
  reach?: QdrantReach;
  /** Per request. */
  timeoutMs: number;
  /** Replaces fetch for every request (the official client then is not used). */
  fetch?: typeof fetch;
}

/** An infrastructure error from one request; `answered` tells a refusal from silence. */
export class QdrantRequestError extends GuardError {
  /** True when the peer sent an HTTP response (even an error status). */
  readonly answered: boolean;
  readonly status?: number;

  constructor(message: string, answered: boolean, status: number | undefined, options: GuardErrorOptions) {
    super('infrastructure', message, options);
    this.name = 'QdrantRequestError';
    this.answered = answered;
    if (status !== undefined) this.status = status;
  }
}

const EXCERPT = 120;

interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

export class HttpQdrantApi implements QdrantApi {
  private readonly opts: HttpQdrantApiOptions;
  private readonly clients = new Map<string, QdrantClient>();
  readonly reach: QdrantReach;

  constructor(opts: HttpQdrantApiOptions) {
    if (!(opts.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    this.opts = opts;
    this.reach = opts.reach ?? DEFAULT_REACH;
  }

  /** The key sent with every request: the read-only one when given (all calls read), else the read-write one. */
  private get key(): string | undefined {
    return this.opts.readOnlyApiKey || this.opts.apiKey || undefined;
  }

  private get keyName(): string {
    return this.opts.readOnlyApiKey ? 'read-only API key (QDRANT_READ_ONLY_API_KEY)' : 'API key (QDRANT_API_KEY)';
  }

  /** The official client only for plain HTTP without an injected fetch. */
  private useClient(ep: PeerEndpoint): boolean {
    return !this.opts.fetch && !ep.url.startsWith('https:');
  }

  async version(ep: PeerEndpoint): Promise<VersionInfo> {
    const body = !this.useClient(ep)
      ? await this.getJson(ep, '/')
      : await this.viaClient(ep, 'GET /', (c) => c.versionInfo());
    return this.shaped(ep, 'GET /', () => toVersionInfo(body));
  }

  async ready(ep: PeerEndpoint): Promise<{ ready: boolean; text: string }> {
    const res = await this.send(ep, '/readyz');
    // 503 is an answer here, not a failure: "some shards are not ready" (docs/qdrant-facts.md#http-api).
    if (res.status === 200 || res.status === 503) return { ready: res.status === 200, text: res.text.trim() };
    throw this.statusError(ep, 'GET /readyz', res);
  }

  async cluster(ep: PeerEndpoint): Promise<ClusterStatus> {
    const body = await this.getJson(ep, '/cluster');
    return this.shaped(ep, 'GET /cluster', () => toClusterStatus(resultOf(body)));
  }

  async collectionNames(ep: PeerEndpoint): Promise<string[]> {
    if (!this.useClient(ep)) {
      const body = await this.getJson(ep, '/collections');
      return this.shaped(ep, 'GET /collections', () => toCollectionNames(resultOf(body)));
    }
    const result = await this.viaClient(ep, 'GET /collections', (c) => c.getCollections());
    return this.shaped(ep, 'GET /collections', () => toCollectionNames(result));
  }

  async collectionCluster(ep: PeerEndpoint, collection: string): Promise<CollectionCluster> {
    const path = `/collections/${encodeURIComponent(collection)}/cluster`;
    const body = await this.getJson(ep, path);
    return this.shaped(ep, `GET ${path}`, () => toCollectionCluster(collection, resultOf(body)));
  }

  async peerMetadata(ep: PeerEndpoint): Promise<Record<string, { version: string }> | undefined> {
    const body = await this.getJson(ep, '/telemetry?details_level=3');
    return this.shaped(ep, 'GET /telemetry', () => toPeerMetadata(resultOf(body)));
  }

  /**
   * Every call above, never throwing. `reachable` is false when GET / got no HTTP answer (refused,
   * timed out); the later calls are then skipped. Other failures are collected in `error`, and the
   * parts that did answer are kept. Telemetry is asked for only on 1.16+ (docs/qdrant-facts.md#peer-metadata-api).
   */
  async observe(ep: PeerEndpoint): Promise<PeerObservation> {
    const obs: PeerObservation = { endpoint: ep, reachable: false };
    const errors: string[] = [];
    const attempt = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
        return undefined;
      }
    };
    try {
      obs.version = await this.version(ep);
      obs.reachable = true;
    } catch (err) {
      obs.reachable = err instanceof QdrantRequestError && err.answered;
      errors.push(err instanceof Error ? err.message : String(err));
      if (!obs.reachable) {
        obs.error = errors.join('; ');
        return obs;
      }
    }
    const ready = await attempt(() => this.ready(ep));
    if (ready) {
      obs.ready = ready.ready;
      obs.readyText = ready.text;
    }
    const cluster = await attempt(() => this.cluster(ep));
    if (cluster) obs.cluster = cluster;
    const names = await attempt(() => this.collectionNames(ep));
    if (names) {
      const collections: CollectionCluster[] = [];
      for (const name of names) {
        const c = await attempt(() => this.collectionCluster(ep, name));
        if (c) collections.push(c);
      }
      obs.collections = collections;
    }
    // The guard reads peer_metadata from telemetry from this version on (docs/qdrant-facts.md#peer-metadata-api).
    if (versionAtLeast(obs.version?.version, QDRANT_VERSION_FACTS.peerMetadataApiSince)) {
      const md = await attempt(() => this.peerMetadata(ep));
      if (md) obs.peerMetadata = md;
    }
    if (errors.length > 0) obs.error = errors.join('; ');
    return obs;
  }

  // ---------------------------------------------------------------- transport

  private who(ep: PeerEndpoint): string {
    return `${ep.pod} (${ep.url})`;
  }

  private redact(text: string): string {
    let out = text;
    for (const key of [this.opts.apiKey, this.opts.readOnlyApiKey]) if (key) out = out.split(key).join('<redacted>');
    return out;
  }

  private fail(message: string, answered: boolean, status: number | undefined, options: GuardErrorOptions): QdrantRequestError {
    return new QdrantRequestError(this.redact(message), answered, status, { ...options, remedy: this.redact(options.remedy ?? '') });
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    if (this.key) h['api-key'] = this.key;
    return h;
  }

  private async send(ep: PeerEndpoint, path: string): Promise<RawResponse> {
    const doFetch = this.opts.fetch ?? fetch;
    const what = `GET ${path.split('?')[0]}`;
    let res: Response;
    try {
      if (!this.opts.fetch && ep.url.startsWith('https:')) {
        return await httpsGet(joinUrl(ep.url, path), {
          reach: this.reach,
          pod: ep.pod,
          headers: this.headers(),
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
      }
      res = await doFetch(joinUrl(ep.url, path), {
        method: 'GET',
        headers: this.headers(),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const text = await res.text();
      return { status: res.status, contentType: res.headers.get('content-type') ?? '', text };
    } catch (err) {
      throw this.transportError(ep, what, err);
    }
  }

  private async getJson(ep: PeerEndpoint, path: string): Promise<unknown> {
    const what = `GET ${path.split('?')[0]}`;
    const res = await this.send(ep, path);
    if (res.status < 200 || res.status > 299) throw this.statusError(ep, what, res);
    try {
      return parseLossless(res.text);
    } catch {
      throw this.fail(
        `${this.who(ep)} answered ${what} with a body that is not JSON (HTTP ${res.status}, ${res.contentType || 'no content-type'}): ${excerpt(res.text)}`,
        true,
        res.status,
        { remedy: `Check that ${ep.url} is the Qdrant REST port (config.service.http_port) of the pod and not a proxy or another service.` },
      );
    }
  }

  private async viaClient<T>(ep: PeerEndpoint, what: string, call: (c: QdrantClient) => Promise<T>): Promise<T> {
    let client = this.clients.get(ep.url);
    if (!client) {
      // The key goes in as a plain header: the `apiKey` option would switch the default scheme to
      // https and print a console warning for every plain-http pod IP.
      client = new QdrantClient({
        url: ep.url,
        timeout: this.opts.timeoutMs,
        checkCompatibility: false,
        ...(this.key ? { headers: { 'api-key': this.key } } : {}),
      });
      this.clients.set(ep.url, client);
    }
    try {
      return await call(client);
    } catch (err) {
      const status = apiErrorStatus(err);
      if (status !== undefined) {
        const data = (err as { data?: unknown }).data;
        throw this.statusError(ep, what, {
          status,
          contentType: '',
          text: typeof data === 'string' ? data : JSON.stringify(data ?? ''),
        });
      }
      if (err instanceof Error && err.name === 'QdrantClientUnexpectedResponseError') {
        throw this.fail(`${this.who(ep)} answered ${what} unexpectedly: ${excerpt(err.message)}`, true, undefined, {});
      }
      throw this.transportError(ep, what, err);
    }
  }

  private shaped<T>(ep: PeerEndpoint, what: string, map: () => T): T {
    try {
      return map();
    } catch (err) {
      if (err instanceof ShapeError) {
        throw this.fail(`${this.who(ep)} answered ${what} with an unexpected body: ${err.message}`, true, 200, {
          remedy: 'Check that this is a Qdrant 1.x REST endpoint; if it is, report the response shape as a bug.',
        });
      }
      throw err;
    }
  }

  private statusError(ep: PeerEndpoint, what: string, res: RawResponse): QdrantRequestError {
    const who = this.who(ep);
    if (res.status === 401 || res.status === 403) {
      if (this.key) {
        return this.fail(`${who} refused ${what}: the ${this.keyName} was refused (HTTP ${res.status}: ${excerpt(res.text)})`, true, res.status, {
          remedy:
            'Give the hooks a key Qdrant runs with: QDRANT_READ_ONLY_API_KEY (chart value readOnlyApiKey; enough for every call the guard makes) ' +
            'or QDRANT_API_KEY (chart value apiKey), from the release Secret (docs/operations.md#api-keys).',
        });
      }
      return this.fail(`${who} refused ${what}: it requires an API key and none was given (HTTP ${res.status})`, true, res.status, {
        remedy:
          'Set QDRANT_READ_ONLY_API_KEY or QDRANT_API_KEY to a key Qdrant runs with (chart values readOnlyApiKey / apiKey, stored in the release Secret; docs/operations.md#api-keys).',
      });
    }
    const transient = res.status >= 500 || res.status === 429;
    return this.fail(`${who} answered ${what} with HTTP ${res.status}: ${excerpt(res.text)}`, true, res.status, {
      transient,
      remedy: transient
        ? `Qdrant reported a server-side problem; look at the logs of ${ep.pod} and retry.`
        : `Check the Qdrant version of ${ep.pod}: this endpoint may not exist there.`,
    });
  }

  private transportError(ep: PeerEndpoint, what: string, err: unknown): QdrantRequestError {
    const who = this.who(ep);
    if (isTimeout(err)) {
      return this.fail(`${who} did not answer ${what} within ${this.opts.timeoutMs} ms`, false, undefined, {
        transient: true,
        cause: err,
        remedy: `Check that ${ep.pod} is running and not overloaded; raise the timeout if the cluster is large.`,
      });
    }
    const code = errorCode(err);
    if (isCertificateError(code)) {
      return this.fail(`${who} presented a certificate that was not accepted: ${what}: ${code}: ${errText(err)}`, false, undefined, {
        cause: err,
        remedy:
          `The hooks verify Qdrant's certificate against ${this.reach.caFile ? `the CA in ${this.reach.caFile} (config.tls.ca_cert)` : 'the system trust store (config.tls.ca_cert is not set)'}; ` +
          `it must chain to that CA and name the pod IP or a name of ${ep.pod} under <namespace>.svc (docs/operations.md#tls-and-custom-ports). ` +
          'upgradeGuard.qdrantTls.insecureSkipVerify=true skips the check (not recommended).',
      });
    }
    if (ep.url.startsWith('https:') && isPlainHttpPort(err)) {
      return this.fail(`${who} does not speak TLS: ${what}: ${errText(err)}`, false, undefined, {
        cause: err,
        remedy: 'The hooks were told to use HTTPS (config.service.enable_tls=true) but the port answers plain HTTP: check config.service.enable_tls and the port (docs/operations.md#tls-and-custom-ports).',
      });
    }
    const detail =
      code === 'ECONNREFUSED'
        ? 'connection refused'
        : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
          ? 'connection reset'
          : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
            ? 'no route to host'
            : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
              ? 'name not resolved'
              : (code ?? (err instanceof Error ? err.message : String(err)));
    return this.fail(`${who} is unreachable: ${what}: ${detail}${code && detail !== code ? ` (${code})` : ''}`, false, undefined, {
      transient: true,
      cause: err,
      remedy: `Check that ${ep.pod} is running and that ${ep.url} is its current pod IP and REST port (kubectl get pod ${ep.pod} -o wide).`,
    });
  }
}

// ------------------------------------------------------------------ helpers

function resultOf(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || !('result' in body)) throw new ShapeError('body has no "result"');
  return (body as { result: unknown }).result;
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT)}...` : flat;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isTimeout(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'TimeoutError' || err.name === 'AbortError' || err.name === 'QdrantClientTimeoutError') return true;
  return err.cause instanceof Error && (err.cause.name === 'TimeoutError' || err.cause.name === 'AbortError');
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (e as { errors?: unknown }).errors; // AggregateError from happy eyeballs
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const c = (inner as { code?: unknown }).code;
        if (typeof c === 'string') return c;
      }
    }
  }
  return undefined;
}

/** The fetcher's ApiError is not exported; it carries a numeric `status` and the parsed `data`. */
function apiErrorStatus(err: unknown): number | undefined {
  if (err && typeof err === 'object' && 'status' in err && 'data' in err) {
    const s = (err as { status: unknown }).status;
    if (typeof s === 'number') return s;
  }
  return undefined;
}
