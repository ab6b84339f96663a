// Container paths -> host folders. Without mount namespaces a process sees the host file system, so the stand-in
// rewrites every occurrence of a mount path (volume mounts, the termination-message file, the service-account
// token folder) in the command, args, env values and working dir into the folder that backs it.
// Limits (test/cluster/README.md): a path the program builds itself, or reads from a config file, is not rewritten.

export interface PathMapping {
  containerPath: string;
  hostPath: string;
}

// A mount path counts only as a whole path component sequence: preceded by the start, a space, `=`, `:`, `,` or a
// quote, and followed by the end, `/` or one of those separators. `/data` must not rewrite `/database`.
const BEFORE = `(^|[\\s=:,"'])`;
const AFTER = `(?=$|[/\\s=:,"'])`;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function normalise(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** Rewrites every mapped container path in `s`, longest mount path first so nested mounts win. */
export function mapPaths(s: string, mappings: readonly PathMapping[]): string {
  const sorted = [...mappings]
    .map((m) => ({ containerPath: normalise(m.containerPath), hostPath: normalise(m.hostPath) }))
    .filter((m) => m.containerPath.startsWith('/') && m.containerPath !== '/')
    .sort((a, b) => b.containerPath.length - a.containerPath.length);
  if (sorted.length === 0) return s;
  const re = new RegExp(BEFORE + '(' + sorted.map((m) => escapeRegExp(m.containerPath)).join('|') + ')' + AFTER, 'g');
  const table = new Map(sorted.map((m) => [m.containerPath, m.hostPath]));
  return s.replace(re, (_all, before: string, path: string) => before + (table.get(path) ?? path));
}

/** The host path a container path resolves to through the mappings, or undefined if it is not under any mount. */
export function resolveContainerPath(p: string, mappings: readonly PathMapping[]): string | undefined {
  const target = normalise(p);
  let best: PathMapping | undefined;
  for (const m of mappings) {
    const cp = normalise(m.containerPath);
    if ((target === cp || target.startsWith(cp + '/')) && (!best || cp.length > normalise(best.containerPath).length)) best = m;
  }
  if (!best) return undefined;
  return normalise(best.hostPath) + target.slice(normalise(best.containerPath).length);
}
