/**
 * TEST DOUBLE (part of test/support/kube-api-double): the in-memory object store and the Status
 * bodies the real kube-apiserver sends. See index.ts for what the double does and does not emulate.
 */
import { randomUUID } from 'node:crypto';

// The double stores raw JSON the way etcd does; tests read it back as such.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObj = { [key: string]: any };

/** Where an object lives in the REST tree. */
export interface ResourceKey {
  group: string;
  version: string;
  resource: string;
}

const KINDS: Record<string, string> = {
  pods: 'Pod',
  statefulsets: 'StatefulSet',
  persistentvolumeclaims: 'PersistentVolumeClaim',
  configmaps: 'ConfigMap',
  events: 'Event',
  volumesnapshots: 'VolumeSnapshot',
  controllerrevisions: 'ControllerRevision',
};

/** Resources whose metadata.generation the apiserver tracks (it bumps on spec changes). */
const GENERATION_TRACKED = new Set(['statefulsets', 'volumesnapshots', 'pods']);

export function kindOf(resource: string): string {
  return KINDS[resource] ?? resource;
}

export function apiVersionOf(key: ResourceKey): string {
  return key.group === '' ? key.version : `${key.group}/${key.version}`;
}

/** `statefulsets.apps`, `pods`: how the apiserver names a resource in messages. */
export function qualified(resource: string, group: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly status: KObj,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(status['message']));
  }
}

export function statusBody(code: number, reason: string, message: string, details?: KObj): KObj {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function details(resource: string, group: string, name?: string): KObj {
  return { ...(name !== undefined ? { name } : {}), ...(group ? { group } : {}), kind: resource };
}

export const notFound = (resource: string, group: string, name: string) =>
  new ApiError(404, statusBody(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, details(resource, group, name)));

export const alreadyExists = (resource: string, group: string, name: string) =>
  new ApiError(
    409,
    statusBody(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, details(resource, group, name)),
  );

export const conflict = (resource: string, group: string, name: string) =>
  new ApiError(
    409,
    statusBody(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": the object has been modified; ` +
        'please apply your changes to the latest version and try again',
      details(resource, group, name),
    ),
  );

export const badRequest = (message: string) => new ApiError(400, statusBody(400, 'BadRequest', message));

export const invalid = (resource: string, group: string, name: string, message: string) =>
  new ApiError(
    422,
    statusBody(422, 'Invalid', `${kindOf(resource)} "${name}" is invalid: ${message}`, details(resource, group, name)),
  );

export function forbidden(user: string, verb: string, resource: string, sub: string, group: string, namespace: string, name?: string) {
  const subject = `${qualified(resource, group)}${name ? ` "${name}"` : ''}`;
  const full = sub ? `${resource}/${sub}` : resource;
  return new ApiError(
    403,
    statusBody(
      403,
      'Forbidden',
      `${subject} is forbidden: User "${user}" cannot ${verb} resource "${full}" in API group "${group}" in the namespace "${namespace}"`,
      details(resource, group, name),
    ),
  );
}

/** Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`), what kubectl and client-node send. */
export function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .every((term) => {
      let m: RegExpExecArray | null;
      if ((m = /^([^!=]+)!=(.*)$/.exec(term))) return l[m[1]!.trim()] !== m[2]!.trim();
      if ((m = /^([^!=]+)==?(.*)$/.exec(term))) return l[m[1]!.trim()] === m[2]!.trim();
      if (term.startsWith('!')) return !(term.slice(1) in l);
      return term in l;
    });
}

/** RFC 7386 JSON merge patch (the double also uses it for strategic merge patches of scalar fields). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: KObj = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as KObj) } : {};
  for (const [k, v] of Object.entries(patch as KObj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class ObjectStore {
  private readonly objects = new Map<string, KObj>();
  private rv = 1000;

  constructor(private readonly now: () => number = Date.now) {}

  private key(resource: string, namespace: string, name: string): string {
    return `${resource}/${namespace}/${name}`;
  }

  nextResourceVersion(): string {
    this.rv += 1;
    return String(this.rv);
  }

  get(resource: string, namespace: string, name: string): KObj | undefined {
    const o = this.objects.get(this.key(resource, namespace, name));
    return o ? clone(o) : undefined;
  }

  list(resource: string, namespace: string, labelSelector?: string): KObj[] {
    const prefix = `${resource}/${namespace}/`;
    return [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && matchesSelector(o['metadata']?.labels, labelSelector))
      .map(([, o]) => clone(o))
      .sort((a, b) => String(a['metadata'].name).localeCompare(String(b['metadata'].name)));
  }

  create(key: ResourceKey, namespace: string, obj: KObj): KObj {
    const name = obj['metadata']?.name;
    if (!name) throw invalid(key.resource, key.group, '', 'metadata.name: Required value: name or generateName is required');
    if (this.objects.has(this.key(key.resource, namespace, name))) throw alreadyExists(key.resource, key.group, name);
    const stored = clone(obj);
    stored['apiVersion'] = apiVersionOf(key);
    stored['kind'] = kindOf(key.resource);
    stored['metadata'] = {
      ...stored['metadata'],
      namespace,
      uid: randomUUID(),
      resourceVersion: this.nextResourceVersion(),
      creationTimestamp: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    delete stored['metadata'].deletionTimestamp;
    if (GENERATION_TRACKED.has(key.resource)) stored['metadata'].generation = 1;
    this.objects.set(this.key(key.resource, namespace, name), stored);
    return clone(stored);
  }

  /** PUT semantics: resourceVersion must match when given; generation follows spec changes. */
  replace(key: ResourceKey, namespace: string, name: string, obj: KObj, options: { status?: boolean } = {}): KObj {
    const current = this.objects.get(this.key(key.resource, namespace, name));
    if (!current) throw notFound(key.resource, key.group, name);
    const rv = obj['metadata']?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current['metadata'].resourceVersion) throw conflict(key.resource, key.group, name);
    const next = clone(obj);
    next['apiVersion'] = current['apiVersion'];
    next['kind'] = current['kind'];
    next['metadata'] = {
      ...next['metadata'],
      name,
      namespace,
      uid: current['metadata'].uid,
      creationTimestamp: current['metadata'].creationTimestamp,
      resourceVersion: this.nextResourceVersion(),
    };
    if (current['metadata'].generation !== undefined) {
      const specChanged = JSON.stringify(current['spec']) !== JSON.stringify(next['spec']);
      next['metadata'].generation = current['metadata'].generation + (specChanged && !options.status ? 1 : 0);
    }
    // The main resource ignores status writes and the status subresource ignores spec writes.
    if (options.status) next['spec'] = current['spec'];
    else if ('status' in current && key.resource !== 'configmaps') next['status'] = current['status'];
    this.objects.set(this.key(key.resource, namespace, name), next);
    return clone(next);
  }

  /** Controller-side write: status and labels change without the PUT rules. */
  mutate(key: ResourceKey, namespace: string, name: string, fn: (o: KObj) => void): KObj {
    const current = this.objects.get(this.key(key.resource, namespace, name));
    if (!current) throw notFound(key.resource, key.group, name);
    const next = clone(current);
    fn(next);
    next['metadata'].resourceVersion = this.nextResourceVersion();
    this.objects.set(this.key(key.resource, namespace, name), next);
    return clone(next);
  }

  delete(key: ResourceKey, namespace: string, name: string): KObj {
    const k = this.key(key.resource, namespace, name);
    const current = this.objects.get(k);
    if (!current) throw notFound(key.resource, key.group, name);
    this.objects.delete(k);
    return clone(current);
  }
}
