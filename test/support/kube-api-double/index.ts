/**
 * TEST DOUBLE of the Kubernetes API server, for integration tests of hook/kube and the commands.
 *
 * What it is: a node:http server on 127.0.0.1 (port 0) serving the REST paths @kubernetes/client-node
 * uses for the hooks' calls (apps/v1 statefulsets get/patch, core/v1 pods list/create/get/delete and
 * pods/log, persistentvolumeclaims, configmaps get/create/update, events create, and
 * snapshot.storage.k8s.io/v1 volumesnapshots), backed by an in-memory store with resourceVersion,
 * uid, creationTimestamp, generation on spec changes, equality label selectors, and the real Status
 * bodies for 401/403/404/409/422/429/5xx. It checks the bearer token, enforces Role-shaped RBAC
 * rules with the apiserver's Forbidden message, injects faults (status codes or hangs) on chosen
 * paths, logs every request, and writes a kubeconfig so the real adapter runs unchanged.
 * Simulated controllers are pluggable: a scheduler+kubelet for worker pods (pod affinity, PVC
 * lookup, then `onPodCreated` decides the outcome), StatefulSet rollouts (`applyUpgrade`,
 * `rollOut`, `onPartitionChange`, `rollingController`), and a snapshot controller.
 *
 * Server-side apply is emulated for StatefulSets only, and field ownership for one field only,
 * `spec.updateStrategy.rollingUpdate.partition` (the one the hooks apply): the manager that created the
 * StatefulSet owns it, defaulted or not (seedQdrantStatefulSet: `helm`); every manager that set it owns
 * it (an apply of the same value shares it, an update or merge patch that changes it takes it);
 * an apply that changes a field another manager owns answers 409 Conflict with the apiserver's
 * FieldManagerConflict body unless `force=true`, which takes the field over; an apply without the field
 * gives it up, and once nobody owns it the API defaults it to 0. Other fields of an apply body are
 * merged without ownership. The StatefulSet controller observes a new generation after the PATCH has
 * answered (`controllerLagMs`, default 0 = the next timer turn), never in the same response. Pod logs
 * filter `sinceTime` in whole seconds, as the kubelet receives it from the apiserver (RFC 3339 without
 * fractions). test/e2e/kube-double-contract.test.ts holds each of these against the real apiserver.
 *
 * What it does not emulate: watches, field selectors other than metadata.name, set-based label
 * selectors, JSON patch and server-side apply of other resources (415), managedFields in responses,
 * apply creating a missing object (404 here), strategic-merge semantics for lists (merge patches only),
 * admission and validation beyond names, graceful deletion (deletes are immediate),
 * activeDeadlineSeconds, finalizers, owner-reference garbage collection, TLS, API discovery, and
 * any resource not listed above (404 "page not found", as for an API group that is not served).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import {
  ApiError,
  badRequest,
  forbidden,
  kindOf,
  mergePatch,
  notFound,
  ObjectStore,
  statusBody,
  type KObj,
  type ResourceKey,
} from './store.js';

export type { KObj } from './store.js';
export { matchesSelector, statusBody } from './store.js';

/** A Role rule, as rendered in the chart (so a test can feed the chart's hook Role here). */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface Fault {
  method?: string;
  /** Matched against the request path (no query). */
  path: string | RegExp;
  /** How many matching requests fail; then the fault is spent. */
  count: number;
  /** 500, 503, 429, 422, ... (ignored when hang). */
  status?: number;
  retryAfterSeconds?: number;
  /** Accept the request and never answer (until the client gives up or the double closes). */
  hang?: boolean;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  status: number;
  /** RBAC verb the request mapped to. */
  verb: string;
}

/** What the emulated kubelet does with a worker pod after it starts. */
export type WorkerOutcome =
  | { exitCode: number; terminationMessage?: string; reason?: string }
  | { evict: string }
  | { vanish: true }
  | { hang: true };

export interface PartitionChange {
  statefulSet: string;
  partition: number;
  previous: number;
}

export interface SeedOptions {
  name?: string;
  replicas?: number;
  image?: string;
  release?: string;
  podIPs?: string[];
  nodes?: string[];
  revision?: string;
  /** Volume claim templates; the chart's default is qdrant-storage (+ qdrant-snapshots). */
  claims?: string[];
  /** Ordinals whose PVCs exist (default: all). */
  pvcOrdinals?: number[];
  partition?: number;
  /**
   * Who created the StatefulSet; it owns the (defaulted) partition, as the apiserver records for the creating
   * manager. Default `helm`.
   */
  fieldManager?: string;
  tolerations?: KObj[];
  nodeSelector?: Record<string, string>;
  imagePullSecrets?: string[];
  podSecurityContext?: KObj;
  containerSecurityContext?: KObj;
}

export interface DoubleOptions {
  namespace?: string;
  /** Service account the kubeconfig token stands for; it shows up in Forbidden messages. */
  serviceAccount?: string;
  /** undefined: everything allowed. Otherwise only what these rules grant. */
  rbac?: RbacRule[];
  /** Serve snapshot.storage.k8s.io (the CRDs installed); default true. */
  volumeSnapshots?: boolean;
  nodes?: string[];
}

const TOKEN = 'kube-api-double-token';
const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
const CORE = (resource: string): ResourceKey => ({ group: '', version: 'v1', resource });
const STS: ResourceKey = { group: 'apps', version: 'v1', resource: 'statefulsets' };
const VS: ResourceKey = { group: SNAPSHOT_GROUP, version: 'v1', resource: 'volumesnapshots' };
/** What the double serves: group/version -> resources. */
const SERVED: Record<string, string[]> = {
  '/v1': ['pods', 'persistentvolumeclaims', 'configmaps', 'events'],
  'apps/v1': ['statefulsets', 'controllerrevisions'],
  [`${SNAPSHOT_GROUP}/v1`]: ['volumesnapshots'],
};

const FAULT_REASONS: Record<number, string> = {
  400: 'BadRequest',
  409: 'Conflict',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

interface Parsed {
  key: ResourceKey;
  namespace: string;
  name?: string;
  sub: string;
}

function parsePath(pathname: string): Parsed | undefined {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  if (rest[0] !== 'namespaces' || rest.length < 3) return undefined;
  return { key: { group, version, resource: rest[2]! }, namespace: rest[1]!, name: rest[3], sub: rest[4] ?? '' };
}

function verbOf(method: string, p: Parsed, query: URLSearchParams): string {
  switch (method) {
    case 'GET':
      return p.name ? 'get' : query.get('watch') === 'true' ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return p.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

interface LogLine {
  time: number;
  text: string;
}

export class KubeApiDouble {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly store: ObjectStore;
  readonly requests: RequestRecord[] = [];
  rbac: RbacRule[] | undefined;
  volumeSnapshots: boolean;
  nodes: string[];
  /** The emulated kubelet's verdict for a worker pod; unset: the pod stays Running. */
  onPodCreated?: (pod: KObj) => Promise<WorkerOutcome> | WorkerOutcome;
  /** Called after a patch changed rollingUpdate.partition (the controller reacts asynchronously). */
  onPartitionChange?: (change: PartitionChange) => Promise<void> | void;
  /** The snapshot controller's verdict; default: ready at once. */
  onVolumeSnapshotCreated?: (vs: KObj) => { readyToUse: true } | { error: string } | 'pending';
  /** Delay before the StatefulSet controller observes a new generation (after the PATCH answered). */
  controllerLagMs = 0;

  private readonly faults: Fault[] = [];
  private readonly logs = new Map<string, LogLine[]>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly sockets = new Set<Socket>();
  private server?: http.Server;
  private port = 0;

  constructor(options: DoubleOptions = {}) {
    this.namespace = options.namespace ?? 'qdrant-ns';
    this.serviceAccount = options.serviceAccount ?? 'qdrant-upgrade-guard';
    this.rbac = options.rbac;
    this.volumeSnapshots = options.volumeSnapshots ?? true;
    this.nodes = options.nodes ?? ['node-a', 'node-b', 'node-c'];
    this.store = new ObjectStore();
  }

  get user(): string {
    return `system:serviceaccount:${this.namespace}:${this.serviceAccount}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Waits until every simulated controller action started so far has finished. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** A kubeconfig pointing client-node at this double (plain http needs insecure-skip-tls-verify). */
  writeKubeconfig(dir: string, options: { namespace?: string } = {}): string {
    const file = path.join(dir, 'kubeconfig.yaml');
    const ns = options.namespace ?? this.namespace;
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: double',
        '  cluster:',
        `    server: ${this.url}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: hook',
        '  user:',
        `    token: ${TOKEN}`,
        'contexts:',
        '- name: double',
        '  context:',
        '    cluster: double',
        '    user: hook',
        `    namespace: ${ns}`,
        'current-context: double',
        '',
      ].join('\n'),
    );
    return file;
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  /** Requests matching a method and a path pattern, for assertions and counting. */
  requestsTo(method: string, pathPattern: string | RegExp): RequestRecord[] {
    return this.requests.filter((r) => r.method === method && matchPath(pathPattern, r.path));
  }

  // ---- object access for tests ---------------------------------------------------------------

  get(resource: string, name: string): KObj | undefined {
    return this.store.get(resource, this.namespace, name);
  }

  list(resource: string, labelSelector?: string): KObj[] {
    return this.store.list(resource, this.namespace, labelSelector);
  }

  put(resource: string, obj: KObj): KObj {
    return this.store.create(keyOf(resource), this.namespace, obj);
  }

  mutate(resource: string, name: string, fn: (o: KObj) => void): KObj {
    return this.store.mutate(keyOf(resource), this.namespace, name, fn);
  }

  remove(resource: string, name: string): void {
    this.store.delete(keyOf(resource), this.namespace, name);
  }

  appendPodLog(pod: string, text: string, options: { container?: string; time?: number; previous?: boolean } = {}): void {
    const k = `${pod}/${options.container ?? ''}/${options.previous ? 'previous' : 'current'}`;
    const lines = this.logs.get(k) ?? [];
    for (const line of text.split('\n')) lines.push({ time: options.time ?? Date.now(), text: line });
    this.logs.set(k, lines);
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const method = req.method ?? 'GET';
    const record: RequestRecord = { method, path: url.pathname, query: url.search, status: 0, verb: '' };
    this.requests.push(record);
    const body = await readBody(req);
    const send = (code: number, payload: unknown, headers: Record<string, string> = {}) => {
      record.status = code;
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      res.writeHead(code, {
        'content-type': typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
        ...headers,
      });
      res.end(text);
    };
    const fault = this.faults.find((f) => f.count > 0 && (!f.method || f.method === method) && matchPath(f.path, url.pathname));
    if (fault) {
      fault.count -= 1;
      if (fault.hang) {
        record.status = -1;
        return;
      }
      const code = fault.status ?? 500;
      const reason = FAULT_REASONS[code] ?? 'InternalError';
      const message =
        code === 429
          ? 'Too many requests, please try again later.'
          : code === 503
            ? 'the server is currently unable to handle the request'
            : code < 500
              ? `${reason}: injected by the test`
              : 'Internal error occurred: injected by the test';
      const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
      const details = fault.retryAfterSeconds !== undefined ? { retryAfterSeconds: fault.retryAfterSeconds } : undefined;
      send(code, statusBody(code, reason, message, details), headers);
      return;
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      send(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const parsed = parsePath(url.pathname);
    const served = parsed && SERVED[`${parsed.key.group}/${parsed.key.version}`]?.includes(parsed.key.resource);
    const groupServed = parsed && (parsed.key.group !== SNAPSHOT_GROUP || this.volumeSnapshots);
    if (!parsed || !served || !groupServed) {
      send(404, '404 page not found\n');
      return;
    }
    const verb = verbOf(method, parsed, url.searchParams);
    record.verb = verb;
    try {
      this.authorize(verb, parsed);
      const result = this.route(method, parsed, url.searchParams, body, req.headers['content-type'] ?? '');
      if (typeof result === 'string') send(200, result);
      else send(method === 'POST' ? 201 : 200, result);
    } catch (err) {
      if (err instanceof ApiError) send(err.code, err.status, err.headers);
      else send(500, statusBody(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`));
    }
  }

  private authorize(verb: string, p: Parsed): void {
    if (!this.rbac) return;
    const resource = p.sub ? `${p.key.resource}/${p.sub}` : p.key.resource;
    const allowed = this.rbac.some(
      (r) =>
        (r.apiGroups.includes('*') || r.apiGroups.includes(p.key.group)) &&
        (r.resources.includes('*') || r.resources.includes(resource)) &&
        (r.verbs.includes('*') || r.verbs.includes(verb)) &&
        (!r.resourceNames || r.resourceNames.length === 0 || (p.name !== undefined && r.resourceNames.includes(p.name))),
    );
    if (!allowed) throw forbidden(this.user, verb, p.key.resource, p.sub, p.key.group, p.namespace, p.name);
  }

  private route(method: string, p: Parsed, q: URLSearchParams, body: string, contentType: string): KObj | string {
    const { key, namespace, name, sub } = p;
    if (sub === 'log' && key.resource === 'pods' && method === 'GET') return this.readLog(namespace, name!, q);
    if (sub && sub !== 'status') throw notFound(key.resource, key.group, name ?? '');
    if (method === 'GET' && !name) {
      let items = this.store.list(key.resource, namespace, q.get('labelSelector') ?? undefined);
      const fieldName = /^metadata\.name=(.*)$/.exec(q.get('fieldSelector') ?? '');
      if (fieldName) items = items.filter((o) => o['metadata'].name === fieldName[1]);
      return {
        kind: `${kindOf(key.resource)}List`,
        apiVersion: key.group ? `${key.group}/${key.version}` : key.version,
        metadata: { resourceVersion: this.store.nextResourceVersion() },
        items,
      };
    }
    if (method === 'GET') {
      const o = this.store.get(key.resource, namespace, name!);
      if (!o) throw notFound(key.resource, key.group, name!);
      return o;
    }
    if (method === 'POST' && !name) {
      const obj = parseJson(body);
      const created = this.store.create(key, namespace, obj);
      this.afterCreate(key.resource, created);
      return this.store.get(key.resource, namespace, created['metadata'].name)!;
    }
    if (method === 'PUT' && name) return this.store.replace(key, namespace, name, parseJson(body), { status: sub === 'status' });
    if (method === 'PATCH' && name) return this.patch(key, namespace, name, body, contentType, q);
    if (method === 'DELETE' && name) {
      const deleted = this.store.delete(key, namespace, name);
      return {
        ...deleted,
        metadata: { ...deleted['metadata'], deletionTimestamp: new Date().toISOString() },
      };
    }
    throw new ApiError(405, statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
  }

  /**
   * Server-side apply, emulated for the one field the hooks apply: rollingUpdate.partition of a StatefulSet
   * (see the header for the rules). statefulset key -> managers owning the partition.
   */
  readonly partitionOwners = new Map<string, Map<string, 'Apply' | 'Update'>>();

  /** The field manager that owns rollingUpdate.partition of a StatefulSet (several: joined by ','), if any. */
  partitionOwner(statefulSet: string): string | undefined {
    const owners = this.partitionOwners.get(`${this.namespace}/${statefulSet}`);
    return owners && owners.size > 0 ? [...owners.keys()].sort().join(',') : undefined;
  }

  /** Records `manager` as the only owner of the partition, as a create or update by it does (an Update operation). */
  setPartitionOwner(statefulSet: string, manager: string, operation: 'Apply' | 'Update' = 'Update'): void {
    this.partitionOwners.set(`${this.namespace}/${statefulSet}`, new Map([[manager, operation]]));
  }

  private patch(key: ResourceKey, namespace: string, name: string, body: string, contentType: string, q: URLSearchParams): KObj {
    const type = contentType.split(';')[0]!.trim();
    const force = q.get('force');
    if (type === 'application/apply-patch+yaml' && key.resource === 'statefulsets') {
      const manager = q.get('fieldManager');
      if (!manager) throw new ApiError(422, statusBody(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'));
      const intent = parseJson(body) as KObj;
      const current = this.store.get(key.resource, namespace, name);
      if (!current) throw notFound(key.resource, key.group, name);
      const partition = intent['spec']?.updateStrategy?.rollingUpdate?.partition;
      const ownerKey = `${namespace}/${name}`;
      const owners = this.partitionOwners.get(ownerKey) ?? new Map<string, 'Apply' | 'Update'>();
      this.partitionOwners.set(ownerKey, owners);
      let merge: KObj = { spec: intent['spec'] ?? {} };
      if (partition === undefined) {
        owners.delete(manager);
        // Nobody owns it any more: the field is removed, and apps/v1 defaulting sets it to 0 again.
        if (owners.size === 0 && current['spec']?.updateStrategy?.rollingUpdate?.partition !== undefined) {
          merge = { spec: { ...(intent['spec'] ?? {}), updateStrategy: { rollingUpdate: { partition: 0 } } } };
        }
      } else {
        const currentValue = current['spec']?.updateStrategy?.rollingUpdate?.partition ?? 0;
        const others = [...owners].filter(([m]) => m !== manager).sort(([a], [b]) => a.localeCompare(b));
        if (partition !== currentValue && others.length > 0) {
          if (force !== 'true') throw partitionConflict(others);
          owners.clear();
        }
        owners.set(manager, 'Apply');
      }
      return this.mergeInto(key, namespace, name, merge);
    }
    if (force !== null) {
      throw new ApiError(422, statusBody(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'));
    }
    if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
      throw new ApiError(
        415,
        statusBody(415, 'UnsupportedMediaType', `the double emulates merge and strategic merge patches only, not ${type}`),
      );
    }
    const update = parseJson(body) as KObj;
    const newPartition = update?.['spec']?.updateStrategy?.rollingUpdate?.partition;
    if (key.resource === 'statefulsets' && newPartition !== undefined) {
      const current = this.store.get(key.resource, namespace, name);
      if (current && (current['spec']?.updateStrategy?.rollingUpdate?.partition ?? 0) !== newPartition) {
        // An update that changes a field takes it from every other manager (updates never conflict).
        this.partitionOwners.set(`${namespace}/${name}`, new Map([[q.get('fieldManager') ?? 'kube-api-double-update', 'Update' as const]]));
      }
    }
    return this.mergeInto(key, namespace, name, update);
  }

  private mergeInto(key: ResourceKey, namespace: string, name: string, patch: KObj): KObj {
    const current = this.store.get(key.resource, namespace, name);
    if (!current) throw notFound(key.resource, key.group, name);
    const next = mergePatch(current, patch) as KObj;
    next['metadata'].resourceVersion = current['metadata'].resourceVersion;
    const updated = this.store.replace(key, namespace, name, next);
    if (key.resource === 'statefulsets') {
      const before = current['spec']?.updateStrategy?.rollingUpdate?.partition ?? 0;
      const after = updated['spec']?.updateStrategy?.rollingUpdate?.partition ?? 0;
      if (updated['metadata'].generation !== current['metadata'].generation) {
        // The StatefulSet controller observes the new generation after this PATCH has answered.
        const generation = updated['metadata'].generation;
        this.track(
          new Promise((r) => setTimeout(r, this.controllerLagMs)).then(() => {
            if (!this.store.get(key.resource, namespace, name)) return;
            this.store.mutate(STS, namespace, name, (o) => {
              const seen = o['status']?.observedGeneration ?? 0;
              o['status'] = { ...(o['status'] ?? {}), observedGeneration: Math.max(seen, generation) };
            });
          }),
        );
      }
      if (before !== after && this.onPartitionChange) {
        const hook = this.onPartitionChange;
        this.track(Promise.resolve().then(() => hook({ statefulSet: name, partition: after, previous: before })));
      }
    }
    return this.store.get(key.resource, namespace, name)!;
  }

  private readLog(namespace: string, name: string, q: URLSearchParams): string {
    const pod = this.store.get('pods', namespace, name);
    if (!pod) throw notFound('pods', '', name);
    const containers: string[] = (pod['spec']?.containers ?? []).map((c: KObj) => c['name']);
    let container = q.get('container') ?? '';
    if (!container) {
      if (containers.length !== 1) {
        throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
      }
      container = containers[0]!;
    }
    if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    const previous = q.get('previous') === 'true';
    const status = (pod['status']?.containerStatuses ?? []).find((s: KObj) => s['name'] === container);
    if (!previous && (!status || status.state?.waiting)) {
      const reason = status?.state?.waiting?.reason ?? 'ContainerCreating';
      throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${reason}`);
    }
    let lines = this.logs.get(`${name}/${container}/${previous ? 'previous' : 'current'}`) ?? this.logs.get(`${name}//${previous ? 'previous' : 'current'}`);
    if (previous && !lines) throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
    lines = lines ?? [];
    const since = q.get('sinceTime');
    if (since) {
      const ms = Date.parse(since);
      if (Number.isNaN(ms)) throw badRequest(`parsing time "${since}" as "2006-01-02T15:04:05Z07:00": cannot parse`);
      // The apiserver passes sinceTime on to the kubelet as RFC 3339 without fractions: whole seconds.
      const second = Math.floor(ms / 1000) * 1000;
      lines = lines.filter((l) => l.time >= second);
    }
    const sinceSeconds = q.get('sinceSeconds');
    if (sinceSeconds) lines = lines.filter((l) => l.time >= Date.now() - Number(sinceSeconds) * 1000);
    const tail = q.get('tailLines');
    if (tail) lines = lines.slice(-Number(tail));
    let text = lines.map((l) => `${l.text}\n`).join('');
    const limit = q.get('limitBytes');
    if (limit) text = Buffer.from(text).subarray(0, Number(limit)).toString();
    return text;
  }

  private track<T>(p: Promise<T>): void {
    const tracked = p.catch((err) => {
      // A failing test hook must not crash the process; the test sees its effect (or lack of it).
      console.error('kube-api-double controller hook failed:', err);
    });
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  // ---- simulated controllers --------------------------------------------------------------------

  private afterCreate(resource: string, obj: KObj): void {
    if (resource === 'pods') {
      this.mutate('pods', obj['metadata'].name, (o) => {
        o['status'] = { phase: 'Pending', qosClass: 'BestEffort' };
      });
      if (obj['metadata'].labels?.['app.kubernetes.io/component'] === 'upgrade-guard-worker') {
        this.track(this.runWorker(obj['metadata'].name, obj['metadata'].uid));
      }
    }
    if (resource === 'volumesnapshots') this.track(this.snapshotController(obj['metadata'].name));
  }

  /** Scheduler (pod affinity on pod-name, PVC must exist) and kubelet (onPodCreated decides). */
  private async runWorker(name: string, uid: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const pod = this.get('pods', name);
    if (!pod || pod['metadata'].uid !== uid) return;
    const unschedulable = (message: string) =>
      this.mutate('pods', name, (o) => {
        o['status'].conditions = [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: new Date().toISOString() },
        ];
      });
    for (const v of pod['spec'].volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (claim && !this.get('persistentvolumeclaims', claim)) {
        unschedulable(`0/${this.nodes.length} nodes are available: persistentvolumeclaim "${claim}" not found. preemption: 0/${this.nodes.length} nodes are available: ${this.nodes.length} Preemption is not helpful for scheduling.`);
        return;
      }
    }
    let node = pod['spec'].nodeName ?? this.nodes[0]!;
    const terms = pod['spec'].affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    for (const term of terms) {
      const target = term.labelSelector?.matchLabels?.['statefulset.kubernetes.io/pod-name'];
      const peer = target ? this.get('pods', target) : undefined;
      if (!peer?.spec?.nodeName) {
        unschedulable(`0/${this.nodes.length} nodes are available: ${this.nodes.length} node(s) didn't match pod affinity rules. preemption: 0/${this.nodes.length} nodes are available: ${this.nodes.length} Preemption is not helpful for scheduling.`);
        return;
      }
      node = peer.spec.nodeName;
    }
    const container = pod['spec'].containers[0].name;
    const startedAt = new Date().toISOString();
    this.mutate('pods', name, (o) => {
      o['spec'].nodeName = node;
      o['status'] = {
        phase: 'Running',
        podIP: `10.244.9.${1 + (this.requests.length % 250)}`,
        startTime: startedAt,
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: 'True' },
        ],
        containerStatuses: [
          { name: container, image: o['spec'].containers[0].image, ready: true, restartCount: 0, started: true, state: { running: { startedAt } } },
        ],
      };
    });
    if (!this.onPodCreated) return;
    const outcome = await this.onPodCreated(this.get('pods', name)!);
    const still = this.get('pods', name);
    if (!still || still['metadata'].uid !== uid) return;
    if ('hang' in outcome) return;
    if ('vanish' in outcome) {
      this.remove('pods', name);
      return;
    }
    if ('evict' in outcome) {
      this.mutate('pods', name, (o) => {
        o['status'].phase = 'Failed';
        o['status'].reason = 'Evicted';
        o['status'].message = outcome.evict;
        o['status'].conditions.push({ type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet' });
        o['status'].containerStatuses[0].ready = false;
        o['status'].containerStatuses[0].state = { terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', startedAt } };
      });
      return;
    }
    this.mutate('pods', name, (o) => {
      o['status'].phase = outcome.exitCode === 0 ? 'Succeeded' : 'Failed';
      o['status'].conditions = [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Ready', status: 'False', reason: 'PodCompleted' },
      ];
      o['status'].containerStatuses[0].ready = false;
      o['status'].containerStatuses[0].started = false;
      o['status'].containerStatuses[0].state = {
        terminated: {
          exitCode: outcome.exitCode,
          reason: outcome.reason ?? (outcome.exitCode === 0 ? 'Completed' : 'Error'),
          ...(outcome.terminationMessage !== undefined ? { message: outcome.terminationMessage } : {}),
          startedAt,
          finishedAt: new Date().toISOString(),
        },
      };
    });
  }

  private async snapshotController(name: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const vs = this.get('volumesnapshots', name);
    if (!vs) return;
    const verdict = this.onVolumeSnapshotCreated ? this.onVolumeSnapshotCreated(vs) : { readyToUse: true as const };
    if (verdict === 'pending') {
      this.mutate('volumesnapshots', name, (o) => (o['status'] = { readyToUse: false }));
      return;
    }
    const pvc = this.get('persistentvolumeclaims', vs['spec']?.source?.persistentVolumeClaimName ?? '');
    this.mutate('volumesnapshots', name, (o) => {
      o['status'] =
        'error' in verdict
          ? { readyToUse: false, error: { message: verdict.error, time: new Date().toISOString() } }
          : {
              boundVolumeSnapshotContentName: `snapcontent-${o['metadata'].uid}`,
              creationTime: new Date().toISOString(),
              readyToUse: true,
              restoreSize: pvc?.status?.capacity?.storage ?? '10Gi',
            };
    });
  }

  /**
   * A StatefulSet and its pods and PVCs as the chart renders them and the controllers leave them
   * when healthy: labels, revision hashes, pod IPs, Qdrant's security context, Bound PVCs.
   */
  seedQdrantStatefulSet(o: SeedOptions = {}): { statefulSet: KObj; pods: KObj[]; pvcs: KObj[] } {
    const name = o.name ?? 'qdrant';
    const release = o.release ?? name;
    const replicas = o.replicas ?? 3;
    const image = o.image ?? 'docker.io/qdrant/qdrant:v1.13.4';
    const revision = o.revision ?? `${name}-7c9d6b5f84`;
    const claims = o.claims ?? ['qdrant-storage'];
    const nodes = o.nodes ?? this.nodes;
    const selector = { 'app.kubernetes.io/name': 'qdrant', 'app.kubernetes.io/instance': release };
    const podSecurityContext = o.podSecurityContext ?? { fsGroup: 3000, fsGroupChangePolicy: 'Always' };
    const containerSecurityContext = o.containerSecurityContext ?? {
      runAsUser: 1000,
      runAsGroup: 2000,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
    };
    const container = {
      name: 'qdrant',
      image,
      imagePullPolicy: 'IfNotPresent',
      ports: [
        { name: 'http', containerPort: 6333, protocol: 'TCP' },
        { name: 'grpc', containerPort: 6334, protocol: 'TCP' },
        { name: 'p2p', containerPort: 6335, protocol: 'TCP' },
      ],
      securityContext: containerSecurityContext,
      volumeMounts: claims.map((c) => ({ name: c, mountPath: c.endsWith('snapshots') ? '/qdrant/snapshots' : '/qdrant/storage' })),
    };
    const podTemplateSpec: KObj = {
      securityContext: podSecurityContext,
      containers: [container],
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.imagePullSecrets ? { imagePullSecrets: o.imagePullSecrets.map((n) => ({ name: n })) } : {}),
    };
    const statefulSet = this.put('statefulsets', {
      metadata: {
        name,
        labels: { ...selector, 'app.kubernetes.io/managed-by': 'Helm', 'helm.sh/chart': 'qdrant-0.1.0' },
        annotations: { 'meta.helm.sh/release-name': release, 'meta.helm.sh/release-namespace': this.namespace },
      },
      spec: {
        replicas,
        selector: { matchLabels: selector },
        serviceName: `${name}-headless`,
        podManagementPolicy: 'Parallel',
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: o.partition ?? 0 } },
        template: { metadata: { labels: selector }, spec: podTemplateSpec },
        volumeClaimTemplates: claims.map((c) => ({
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: c },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
        })),
      },
    });
    const pods: KObj[] = [];
    const pvcs: KObj[] = [];
    for (let i = 0; i < replicas; i++) {
      const podName = `${name}-${i}`;
      pods.push(
        this.put('pods', this.qdrantPod(statefulSet, i, {
          revision,
          image,
          ip: o.podIPs?.[i] ?? `10.244.${i}.${10 + i}`,
          node: nodes[i % nodes.length]!,
        })),
      );
      if (!o.pvcOrdinals || o.pvcOrdinals.includes(i)) {
        for (const c of claims) {
          pvcs.push(
            this.put('persistentvolumeclaims', {
              metadata: { name: `${c}-${podName}`, labels: selector },
              spec: {
                accessModes: ['ReadWriteOnce'],
                resources: { requests: { storage: '10Gi' } },
                storageClassName: 'standard',
                volumeMode: 'Filesystem',
                volumeName: `pvc-${randomUUID()}`,
              },
            }),
          );
          this.mutate('persistentvolumeclaims', `${c}-${podName}`, (p) => {
            p['status'] = { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '10Gi' } };
          });
        }
      }
    }
    this.mutate('statefulsets', name, (s) => {
      s['status'] = {
        observedGeneration: 1,
        replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        currentReplicas: replicas,
        updatedReplicas: replicas,
        currentRevision: revision,
        updateRevision: revision,
        collisionCount: 0,
      };
    });
    this.setPartitionOwner(name, o.fieldManager ?? 'helm');
    return { statefulSet: this.get('statefulsets', name)!, pods: pods.map((p) => this.get('pods', p['metadata'].name)!), pvcs };
  }

  private qdrantPod(sts: KObj, ordinal: number, o: { revision: string; image: string; ip: string; node: string }): KObj {
    const name = `${sts['metadata'].name}-${ordinal}`;
    const template = JSON.parse(JSON.stringify(sts['spec'].template));
    template.spec.containers[0].image = o.image;
    template.spec.hostname = name;
    template.spec.subdomain = sts['spec'].serviceName;
    template.spec.nodeName = o.node;
    template.spec.volumes = (sts['spec'].volumeClaimTemplates ?? []).map((c: KObj) => ({
      name: c['metadata'].name,
      persistentVolumeClaim: { claimName: `${c['metadata'].name}-${name}` },
    }));
    const startedAt = new Date().toISOString();
    return {
      metadata: {
        name,
        labels: {
          ...template.metadata.labels,
          'controller-revision-hash': o.revision,
          'statefulset.kubernetes.io/pod-name': name,
          'apps.kubernetes.io/pod-index': String(ordinal),
        },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts['metadata'].name, uid: sts['metadata'].uid, controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: template.spec,
      status: {
        phase: 'Running',
        podIP: o.ip,
        podIPs: [{ ip: o.ip }],
        hostIP: `192.168.0.${10 + ordinal}`,
        startTime: startedAt,
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Initialized', status: 'True' },
          { type: 'ContainersReady', status: 'True' },
          { type: 'Ready', status: 'True' },
        ],
        containerStatuses: [
          { name: 'qdrant', image: o.image, imageID: `${o.image}@sha256:${'0'.repeat(64)}`, ready: true, started: true, restartCount: 0, state: { running: { startedAt } } },
        ],
      },
    };
  }

  /** What `helm upgrade` does to the StatefulSet: a new template, hence a new update revision. */
  applyUpgrade(statefulSet: string, o: { image: string; revision: string }): void {
    this.mutate('statefulsets', statefulSet, (s) => {
      s['spec'].template.spec.containers[0].image = o.image;
      s['metadata'].generation += 1;
      s['status'].observedGeneration = s['metadata'].generation;
      s['status'].updateRevision = o.revision;
    });
    this.refreshStatus(statefulSet);
  }

  /**
   * Replaces the pods of the given ordinals, in order, the way the StatefulSet controller does:
   * delete, recreate with the update revision's labels and image (new uid, not ready), await
   * onRestart (a test restarts its emulated Qdrant peer there), then mark Ready.
   */
  async rollOut(
    statefulSet: string,
    o: { ordinals: number[]; onRestart?: (ordinal: number) => Promise<void> | void; ready?: (ordinal: number) => boolean },
  ): Promise<void> {
    const sts = this.get('statefulsets', statefulSet)!;
    const revision = sts['status'].updateRevision;
    const image = sts['spec'].template.spec.containers[0].image;
    for (const ordinal of o.ordinals) {
      const name = `${statefulSet}-${ordinal}`;
      const old = this.get('pods', name);
      if (old) this.remove('pods', name);
      // A new pod has new containers: its log starts empty, as with a real kubelet.
      for (const key of [...this.logs.keys()]) if (key.startsWith(`${name}/`)) this.logs.delete(key);
      const pod = this.qdrantPod(sts, ordinal, {
        revision,
        image,
        ip: old?.['status']?.podIP ?? `10.244.${ordinal}.${10 + ordinal}`,
        node: old?.['spec']?.nodeName ?? this.nodes[ordinal % this.nodes.length]!,
      });
      pod['status'].conditions = pod['status'].conditions.map((c: KObj) =>
        c['type'] === 'Ready' || c['type'] === 'ContainersReady' ? { ...c, status: 'False' } : c,
      );
      pod['status'].containerStatuses[0].ready = false;
      this.put('pods', pod);
      this.mutate('pods', name, (p) => (p['status'] = pod['status']));
      this.refreshStatus(statefulSet);
      await o.onRestart?.(ordinal);
      if (o.ready ? o.ready(ordinal) : true) {
        this.mutate('pods', name, (p) => {
          p['status'].conditions = p['status'].conditions.map((c: KObj) =>
            c['type'] === 'Ready' || c['type'] === 'ContainersReady' ? { ...c, status: 'True' } : c,
          );
          p['status'].containerStatuses[0].ready = true;
        });
      }
      this.refreshStatus(statefulSet);
    }
  }

  /**
   * An onPartitionChange that behaves like the StatefulSet controller: every pod at or above the
   * partition that is not on the update revision is replaced, highest ordinal first.
   */
  rollingController(o: { onRestart?: (ordinal: number) => Promise<void> | void; ready?: (ordinal: number) => boolean } = {}) {
    return async (change: PartitionChange): Promise<void> => {
      const sts = this.get('statefulsets', change.statefulSet)!;
      const ordinals: number[] = [];
      for (let i = sts['spec'].replicas - 1; i >= change.partition; i--) {
        const pod = this.get('pods', `${change.statefulSet}-${i}`);
        if (pod?.['metadata'].labels?.['controller-revision-hash'] !== sts['status'].updateRevision) ordinals.push(i);
      }
      await this.rollOut(change.statefulSet, { ...o, ordinals });
    };
  }

  /** Recomputes StatefulSet status from its pods, as the controller does after each change. */
  refreshStatus(statefulSet: string): void {
    const sts = this.get('statefulsets', statefulSet)!;
    const selector = Object.entries(sts['spec'].selector.matchLabels as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = this.list('pods', selector);
    const ready = pods.filter((p) => (p['status']?.conditions ?? []).some((c: KObj) => c['type'] === 'Ready' && c['status'] === 'True'));
    this.mutate('statefulsets', statefulSet, (s) => {
      const st = s['status'];
      const rev = (p: KObj) => p['metadata'].labels?.['controller-revision-hash'];
      st.replicas = pods.length;
      st.readyReplicas = ready.length;
      st.availableReplicas = ready.length;
      st.updatedReplicas = pods.filter((p) => rev(p) === st.updateRevision).length;
      st.currentReplicas = pods.filter((p) => rev(p) === st.currentRevision).length;
      if (st.updatedReplicas === s['spec'].replicas && ready.length === s['spec'].replicas) {
        st.currentRevision = st.updateRevision;
        st.currentReplicas = st.updatedReplicas;
      }
    });
  }
}

function keyOf(resource: string): ResourceKey {
  if (resource === 'statefulsets' || resource === 'controllerrevisions') return { ...STS, resource };
  if (resource === 'volumesnapshots') return VS;
  return CORE(resource);
}

function matchPath(pattern: string | RegExp, p: string): boolean {
  return typeof pattern === 'string' ? p === pattern : pattern.test(p);
}

function parseJson(body: string): KObj {
  try {
    return JSON.parse(body) as KObj;
  } catch {
    throw badRequest('the body of the request was in an unknown format');
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', () => resolve(data));
  });
}

/** Starts a double; close() it in an after hook. */
export async function startKubeApiDouble(options: DoubleOptions = {}): Promise<KubeApiDouble> {
  return new KubeApiDouble(options).start();
}

/**
 * The apiserver's answer to an apply that would change a field other managers own (without force). An owner by
 * Update is named with its API version, an owner by Apply without (as kube-apiserver 1.34 words it).
 */
function partitionConflict(owners: Array<[string, 'Apply' | 'Update']>): ApiError {
  const field = '.spec.updateStrategy.rollingUpdate.partition';
  const who = ([m, op]: [string, 'Apply' | 'Update']) => (op === 'Apply' ? `conflict with "${m}"` : `conflict with "${m}" using apps/v1`);
  const causes = owners.map((o) => ({ type: 'FieldManagerConflict', message: who(o), field }));
  const summary =
    owners.length === 1
      ? `Apply failed with 1 conflict: ${who(owners[0]!)}: ${field}`
      : `Apply failed with ${owners.length} conflicts: ${owners.map((o) => `${who(o)}: ${field}`).join('\n')}`;
  return new ApiError(409, statusBody(409, 'Conflict', summary, { causes }));
}
