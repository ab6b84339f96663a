// Container environment as the kubelet builds it: envFrom, then env in order, `$(VAR)` references expanded against
// what is defined so far, values from ConfigMaps, Secrets, the downward API (fieldRef, resourceFieldRef).
// Not done: service links (`<SVC>_SERVICE_HOST`), since no Service has a reachable cluster IP here.

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface EnvSources {
  /** Answers undefined when the object does not exist. Secret data is base64 as in the API. */
  configMap(namespace: string, name: string): Promise<{ data?: Record<string, string>; binaryData?: Record<string, string> } | undefined>;
  secret(namespace: string, name: string): Promise<{ data?: Record<string, string> } | undefined>;
}

/**
 * Expands `$(VAR)` with the variables defined so far; `$$` escapes a `$`; an undefined reference is left as written
 * (Kubernetes semantics, `k8s.io/kubernetes/third_party/forked/golang/expansion`).
 */
export function expand(input: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += vars.has(name) ? vars.get(name) : `$(${name})`;
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

/** Reads a downward-API field path of a pod (`metadata.labels['app']`, `status.podIP`, ...). */
export function fieldPathValue(pod: any, fieldPath: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return String(pod.metadata?.[m[1]]?.[m[2]] ?? '');
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'metadata.labels':
    case 'metadata.annotations': {
      const obj: Record<string, string> = pod.metadata?.[fieldPath.slice('metadata.'.length)] ?? {};
      return Object.keys(obj)
        .sort()
        .map((k) => `${k}="${obj[k].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join('\n');
    }
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
    case 'status.podIP':
      return pod.status?.[fieldPath.slice('status.'.length)] ?? '';
    case 'status.hostIPs':
    case 'status.podIPs':
      return (pod.status?.[fieldPath.slice('status.'.length)] ?? []).map((x: { ip: string }) => x.ip).join(',');
    default:
      throw new ConfigError(`unsupported fieldRef.fieldPath ${fieldPath}`);
  }
}

const BINARY_SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL_SUFFIX: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A resource quantity as a number (`500m` -> 0.5, `1Gi` -> 1073741824). */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) throw new ConfigError(`bad quantity ${q}`);
  const n = Number(m[1]);
  const mult = BINARY_SUFFIX[m[2]] ?? DECIMAL_SUFFIX[m[2]];
  if (mult === undefined) throw new ConfigError(`bad quantity suffix in ${q}`);
  return n * mult;
}

/** resourceFieldRef: the container's limit (node allocatable when unset), divided and rounded up like the kubelet. */
export function resourceFieldValue(
  container: any,
  ref: { resource: string; divisor?: string | number },
  allocatable: Record<string, string>,
): string {
  const [kind, name] = ref.resource.split('.', 2);
  const fromSpec = container.resources?.[kind]?.[name] ?? (kind === 'requests' ? container.resources?.limits?.[name] : undefined);
  const raw = fromSpec ?? (kind === 'limits' ? allocatable[name] : '0');
  const value = parseQuantity(raw ?? '0');
  const divisor = parseQuantity(ref.divisor ?? 1) || 1;
  return String(Math.ceil(value / divisor));
}

function decodeSecret(v: string): string {
  return Buffer.from(v, 'base64').toString('utf8');
}

/**
 * The container's environment variables, in order. Throws ConfigError for what the kubelet reports as
 * CreateContainerConfigError (a missing non-optional ConfigMap, Secret or key).
 */
export async function resolveEnv(
  pod: any,
  container: any,
  sources: EnvSources,
  allocatable: Record<string, string>,
): Promise<Map<string, string>> {
  const ns: string = pod.metadata.namespace;
  const vars = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const prefix: string = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = await sources.configMap(ns, from.configMapRef.name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ConfigError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) vars.set(prefix + k, v);
    } else if (from.secretRef) {
      const s = await sources.secret(ns, from.secretRef.name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new ConfigError(`secret "${from.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(s.data ?? {})) vars.set(prefix + k, decodeSecret(v));
    }
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom === undefined) {
      vars.set(e.name, expand(e.value ?? '', vars));
      continue;
    }
    const vf = e.valueFrom;
    if (vf.fieldRef) {
      vars.set(e.name, fieldPathValue(pod, vf.fieldRef.fieldPath));
    } else if (vf.resourceFieldRef) {
      vars.set(e.name, resourceFieldValue(container, vf.resourceFieldRef, allocatable));
    } else if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const cm = await sources.configMap(ns, ref.name);
      const v = cm?.data?.[ref.key];
      if (v === undefined) {
        if (ref.optional) continue;
        throw new ConfigError(cm ? `key "${ref.key}" not found in configmap "${ref.name}"` : `configmap "${ref.name}" not found`);
      }
      vars.set(e.name, v);
    } else if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const s = await sources.secret(ns, ref.name);
      const v = s?.data?.[ref.key];
      if (v === undefined) {
        if (ref.optional) continue;
        throw new ConfigError(s ? `key "${ref.key}" not found in secret "${ref.name}"` : `secret "${ref.name}" not found`);
      }
      vars.set(e.name, decodeSecret(v));
    } else {
      throw new ConfigError(`env ${e.name}: unsupported valueFrom ${Object.keys(vf).join(',')}`);
    }
  }
  return vars;
}
