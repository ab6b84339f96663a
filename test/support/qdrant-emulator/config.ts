/**
 * Settings of an emulator process, gathered the way Qdrant gathers its own: config files under
 * `<cwd>/config/` (`config.yaml`, `<RUN_MODE>.yaml` with RUN_MODE defaulting to `production` as in
 * the image, `local.yaml`, or `--config-path`), then `QDRANT__SECTION__KEY` env variables, then the
 * emulator's flags. Only the keys the emulator uses are read; the YAML reader handles the nested
 * mappings of scalars that Qdrant config files consist of (lists and anchors are skipped).
 */
import fs from 'node:fs';
import path from 'node:path';

export type ConfigTree = { [key: string]: string | ConfigTree };

function unquote(v: string): string {
  const t = v.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
  return t;
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** Nested `key: value` mappings; list items and block scalars are ignored. */
export function parseYamlSubset(text: string): ConfigTree {
  const root: ConfigTree = {};
  const stack: Array<{ indent: number; node: ConfigTree }> = [{ indent: -1, node: root }];
  for (const raw of text.split(/\r?\n/)) {
    const line = stripComment(raw).replace(/\s+$/, '');
    if (!line.trim() || line.trim() === '---') continue;
    const indent = line.length - line.trimStart().length;
    const body = line.trim();
    if (body.startsWith('- ')) continue;
    const m = /^("[^"]*"|'[^']*'|[^:]+?)\s*:(?:\s+(.*))?$/.exec(body);
    if (!m) continue;
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const parent = stack[stack.length - 1]!.node;
    const key = unquote(m[1]!);
    const value = m[2];
    if (value === undefined || value === '' || value === '|' || value === '>') {
      const child: ConfigTree = {};
      parent[key] = child;
      stack.push({ indent, node: child });
    } else {
      parent[key] = unquote(value);
    }
  }
  return root;
}

export function getPath(tree: ConfigTree, dotted: string): string | undefined {
  let node: string | ConfigTree | undefined = tree;
  for (const part of dotted.split('.')) {
    if (node === undefined || typeof node === 'string') return undefined;
    node = node[part];
  }
  return typeof node === 'string' ? node : undefined;
}

function merge(into: ConfigTree, from: ConfigTree): ConfigTree {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (typeof v !== 'string' && cur !== undefined && typeof cur !== 'string') merge(cur, v);
    else into[k] = v;
  }
  return into;
}

/** Config files as Qdrant would layer them, relative to `cwd`. */
export function loadConfigFiles(cwd: string, env: NodeJS.ProcessEnv, configPath?: string): { tree: ConfigTree; files: string[] } {
  const runMode = env.RUN_MODE ?? 'production';
  const candidates = configPath
    ? [path.resolve(cwd, configPath)]
    : ['config/config.yaml', `config/${runMode}.yaml`, 'config/local.yaml'].map((f) => path.join(cwd, f));
  const tree: ConfigTree = {};
  const files: string[] = [];
  for (const file of candidates) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    merge(tree, parseYamlSubset(text));
    files.push(file);
  }
  return { tree, files };
}

/** `QDRANT__CLUSTER__P2P__PORT` overrides `cluster.p2p.port`. */
export function setting(tree: ConfigTree, env: NodeJS.ProcessEnv, dotted: string): string | undefined {
  const envName = 'QDRANT__' + dotted.toUpperCase().replace(/\./g, '__');
  return env[envName] ?? getPath(tree, dotted);
}

export function parseBool(v: string | undefined, fallback: boolean): boolean {
  if (v === undefined || v === '') return fallback;
  return /^(true|1|yes|on)$/i.test(v.trim());
}
