/**
 * The one place where a Kubernetes API failure becomes a GuardError, and where retries live.
 * Every adapter method goes through callApi(), so a 403 always names the verb and resource to
 * grant, a 404 always says what was looked for, and 5xx/429/network failures are retried with the
 * same bounded backoff before they become a transient infrastructure error.
 */
import { GuardError, infraError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';

/** What a call does, in Kubernetes RBAC terms and in words. */
export interface CallDescription {
  verb: string;
  /** Plural resource, with "/subresource" when there is one: "pods/log". */
  resource: string;
  /** API group; "" is the core group. */
  group: string;
  /** Human words for messages: "get StatefulSet qdrant". */
  what: string;
  namespace: string;
}

/** A failed HTTP exchange reduced to what decisions need. */
export interface ApiFailure {
  /** HTTP status; 0 for network errors and timeouts. */
  code: number;
  /** Status.reason: "NotFound", "Forbidden", "AlreadyExists", "Conflict", ... */
  reason: string;
  message: string;
  details?: { name?: string; group?: string; kind?: string; retryAfterSeconds?: number };
  retryAfterSeconds?: number;
  /** The original error, kept as a cause (it never contains the token). */
  cause: unknown;
}

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

/** Handlers for statuses a method expects (404 -> undefined, 409 -> re-read); the rest become errors. */
export type Expected<T> = Partial<Record<number, (failure: ApiFailure) => T | Promise<T>>>;

const RETRYABLE_CODES = new Set([0, 429, 500, 502, 503, 504]);
/** Retry-After beyond this is not waited for: the hook has its own deadline. */
const MAX_RETRY_AFTER_MS = 10_000;

export async function callApi<T>(
  description: CallDescription,
  fn: () => Promise<T>,
  context: { clock: Clock; retry: RetryPolicy },
  expected: Expected<T> = {},
): Promise<T> {
  const { clock, retry } = context;
  let last: ApiFailure | undefined;
  for (let attempt = 1; attempt <= retry.attempts; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const failure = toFailure(err);
      const handler = expected[failure.code];
      if (handler) return handler(failure);
      if (!RETRYABLE_CODES.has(failure.code)) throw toGuardError(description, failure);
      last = failure;
      if (attempt < retry.attempts) await clock.sleep(backoffDelay(attempt, failure, retry));
    }
  }
  throw exhausted(description, last!, retry.attempts);
}

/** 200, 400, 800, ... capped; a Retry-After header wins when the server sends one. */
export function backoffDelay(attempt: number, failure: ApiFailure, retry: RetryPolicy): number {
  if (failure.retryAfterSeconds !== undefined && failure.retryAfterSeconds >= 0) {
    return Math.min(failure.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
  }
  return Math.min(retry.backoffMs * 2 ** (attempt - 1), retry.maxBackoffMs);
}

/** Reads an ApiException (client-node 1.x), a fetch error or anything else into an ApiFailure. */
export function toFailure(err: unknown): ApiFailure {
  const e = err as { code?: unknown; body?: unknown; headers?: Record<string, string>; name?: string; type?: string };
  if (e && typeof e === 'object' && typeof e.code === 'number' && 'body' in e) {
    const status = parseStatus(e.body);
    const header = e.headers?.['retry-after'];
    const headerSeconds = header !== undefined && /^\d+$/.test(header.trim()) ? Number(header) : undefined;
    return {
      code: e.code,
      reason: status?.reason ?? '',
      message: status?.message ?? bodySnippet(e.body) ?? `HTTP ${e.code}`,
      details: status?.details,
      retryAfterSeconds: headerSeconds ?? status?.details?.retryAfterSeconds,
      cause: err,
    };
  }
  // node-fetch: AbortError when our per-request timeout fires, FetchError for socket failures.
  if (e && (e.name === 'AbortError' || e.type === 'aborted')) {
    return { code: 0, reason: 'Timeout', message: 'the request timed out', cause: err };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 0, reason: 'NetworkError', message, cause: err };
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  details?: ApiFailure['details'];
}

function parseStatus(body: unknown): StatusBody | undefined {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (value && typeof value === 'object' && (value as StatusBody).kind === 'Status') return value as StatusBody;
  return undefined;
}

function bodySnippet(body: unknown): string | undefined {
  if (typeof body !== 'string' || body.trim() === '') return undefined;
  return body.trim().slice(0, 200);
}

const groupName = (group: string): string => (group === '' ? 'core' : group);

/**
 * The apiserver's Forbidden message: `pods "x" is forbidden: User "system:serviceaccount:ns:sa"
 * cannot get resource "pods/log" in API group "" in the namespace "ns"`. What it says wins over
 * what we meant to do: a webhook or an aggregated API may deny something else.
 */
export function parseForbidden(message: string): {
  user?: string;
  verb?: string;
  resource?: string;
  group?: string;
  namespace?: string;
} {
  const m = /User "([^"]*)" cannot (\S+) resource "([^"]*)" in API group "([^"]*)"(?: in the namespace "([^"]*)")?/.exec(
    message,
  );
  if (!m) return {};
  return { user: m[1], verb: m[2], resource: m[3], group: m[4], namespace: m[5] };
}

function describeUser(user: string | undefined): string {
  if (!user) return 'the hook';
  return user.startsWith('system:serviceaccount:') ? `the service account ${user}` : `the user ${user}`;
}

export function toGuardError(d: CallDescription, f: ApiFailure): GuardError {
  switch (f.code) {
    case 401:
      return infraError(`unauthorized: the API server rejected the hook's credentials while trying to ${d.what}`, {
        remedy: 'Check the service account token (automountServiceAccountToken must be true on the hook Job).',
        cause: f.cause,
      });
    case 403: {
      const p = parseForbidden(f.message);
      const verb = p.verb ?? d.verb;
      const resource = p.resource ?? d.resource;
      const group = p.group ?? f.details?.group ?? d.group;
      const ns = p.namespace ?? d.namespace;
      return infraError(
        `permission denied: ${describeUser(p.user)} cannot ${verb} ${resource} (${groupName(group)}) in namespace ${ns}` +
          ` (while trying to ${d.what})`,
        {
          remedy:
            `Grant ${verb} on ${resource} (apiGroups: ["${group}"]) in the Role of this command ` +
            '(the chart renders one per command, exactly as wide as its calls: docs/rbac.md).',
          cause: f.cause,
        },
      );
    }
    case 404:
      return infraError(`${d.what}: not found in namespace ${d.namespace} (${f.message})`, {
        remedy: 'Check the names and the namespace the hook was given.',
        cause: f.cause,
      });
    default: {
      const transient = RETRYABLE_CODES.has(f.code);
      const status = f.code === 0 ? f.reason : `HTTP ${f.code}${f.reason ? ` ${f.reason}` : ''}`;
      return infraError(`could not ${d.what}: ${status}: ${f.message}`, {
        remedy: transient
          ? 'The Kubernetes API is unavailable or overloaded; retry the upgrade when it answers.'
          : 'The API server refused the request; this may be a bug in qdrant-upgrade-guard.',
        transient,
        cause: f.cause,
      });
    }
  }
}

function exhausted(d: CallDescription, f: ApiFailure, attempts: number): GuardError {
  const status = f.code === 0 ? f.reason : `HTTP ${f.code}${f.reason ? ` ${f.reason}` : ''}`;
  return infraError(`could not ${d.what} after ${attempts} attempts: ${status}: ${f.message}`, {
    remedy: 'The Kubernetes API is unavailable or overloaded; retry the upgrade when it answers.',
    transient: true,
    cause: f.cause,
  });
}
