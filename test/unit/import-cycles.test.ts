/**
 * hook/ has no import cycle, dynamic imports included: every module can be loaded, tested and moved without
 * dragging in the module that needs it. `import type` is left out: the compiler erases it, so it cannot change what
 * loads first. Also checks the layering the code relies on: policy/ imports no adapter and no command.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const hookDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../hook');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Relative imports of one file that load at run time (static, re-exports, dynamic), resolved to files. */
export function importsOf(file: string, text: string, withTypes = false): string[] {
  const specs = [
    ...text.matchAll(withTypes ? /^\s*(?:import|export)\s[^;]*?\sfrom\s+['"](\.[^'"]+)['"]/gms : /^\s*(?:import|export)\s(?!type\s)[^;]*?\sfrom\s+['"](\.[^'"]+)['"]/gms),
    ...text.matchAll(/^\s*import\s+['"](\.[^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts')));
}

/** Every elementary cycle's first appearance, as module paths relative to hook/ (empty when none). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (!graph.has(m)) continue;
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles.map((c) => c.map((f) => path.relative(hookDir, f)));
}

function hookGraph(withTypes = false): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of tsFiles(hookDir)) graph.set(f, importsOf(f, fs.readFileSync(f, 'utf8'), withTypes));
  return graph;
}

describe('hook/ module structure', () => {
  it('finds a cycle when there is one (the checker itself)', () => {
    const g = new Map([
      ['/h/a.ts', ['/h/b.ts']],
      ['/h/b.ts', ['/h/c.ts']],
      ['/h/c.ts', ['/h/a.ts']],
      ['/h/d.ts', ['/h/a.ts']],
    ]);
    expect(findCycles(g).map((c) => c.map((f) => path.basename(f)))).to.deep.equal([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    expect(
      importsOf('/h/x.ts', "import type { A } from './a.js';\nimport { type E, F } from './e.js';\nexport { B } from '../b.js';\nconst m = await import('./c.js');"),
    ).to.deep.equal(['/h/e.ts', '/b.ts', '/h/c.ts']);
  });

  it('has no import cycle, dynamic imports included', () => {
    expect(findCycles(hookGraph())).to.deep.equal([]);
  });

  it('keeps policy/ free of adapters and commands, types included: policy owns the vocabulary it decides on', () => {
    const offenders: string[] = [];
    for (const [file, deps] of hookGraph(true)) {
      if (!file.startsWith(path.join(hookDir, 'policy') + path.sep)) continue;
      for (const d of deps) {
        const rel = path.relative(hookDir, d);
        if (!rel.startsWith('policy/') && !['report.ts', 'errors.ts', 'runtime/clock.ts'].includes(rel)) {
          offenders.push(`${path.relative(hookDir, file)} -> ${rel}`);
        }
      }
    }
    expect(offenders).to.deep.equal([]);
  });
});
