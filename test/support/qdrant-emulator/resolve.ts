/**
 * Name resolution for peer URIs such as `http://qdrant-1.qdrant-headless:6335/`. There is no cluster
 * DNS here: names come from an in-process map or function, or from the JSON file {hostname: ip} that
 * the kubelet stand-in keeps current (`QDRANT_EMULATOR_RESOLVE_FILE`), re-read whenever it changes.
 * A name that is not found is tried without its trailing labels (`qdrant-1.qdrant-headless.ns.svc...`
 * -> `qdrant-1.qdrant-headless` -> `qdrant-1`), then used as is (an IP literal, or `localhost`).
 */
import fs from 'node:fs';

export type Resolver = (hostname: string) => string | undefined;

export function mapResolver(map: Map<string, string> | Record<string, string>): Resolver {
  const m = map instanceof Map ? map : new Map(Object.entries(map));
  return (h) => m.get(h);
}

export function fileResolver(file: string): Resolver {
  let cache: { mtimeMs: number; size: number; map: Record<string, string> } | undefined;
  return (hostname) => {
    try {
      const st = fs.statSync(file);
      if (!cache || cache.mtimeMs !== st.mtimeMs || cache.size !== st.size) {
        const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
        const map: Record<string, string> = {};
        if (parsed && typeof parsed === 'object') {
          for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
            if (typeof v === 'string') map[k] = v;
          }
        }
        cache = { mtimeMs: st.mtimeMs, size: st.size, map };
      }
      return cache.map[hostname];
    } catch {
      // Missing or half-written file: the stand-in rewrites it; use what we had.
      return cache?.map[hostname];
    }
  };
}

export function chainResolvers(...resolvers: Array<Resolver | undefined>): Resolver {
  const rs = resolvers.filter((r): r is Resolver => r !== undefined);
  return (h) => {
    for (const r of rs) {
      const ip = r(h);
      if (ip) return ip;
    }
    return undefined;
  };
}

export function resolveHost(resolver: Resolver, hostname: string): string {
  const labels = hostname.split('.');
  for (let n = labels.length; n >= 1; n--) {
    const ip = resolver(labels.slice(0, n).join('.'));
    if (ip) return ip;
  }
  return hostname;
}

/** `http://qdrant-1.qdrant-headless:6335/` -> `http://127.2.3.2:6335` ready for fetch. */
export function resolveUrl(resolver: Resolver, uri: string): string {
  const u = new URL(uri);
  const host = u.hostname.startsWith('[') ? u.hostname : resolveHost(resolver, u.hostname);
  return `${u.protocol}//${host}${u.port ? `:${u.port}` : ''}`;
}

/** Qdrant stores peer URIs normalised with a trailing slash (`http://host:6335/`). */
export function normaliseUri(uri: string): string {
  return new URL(uri).toString();
}
