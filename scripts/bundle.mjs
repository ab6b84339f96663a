#!/usr/bin/env node
// Bundles the CLI into one self-contained file: hook/cli.ts -> dist/qdrant-upgrade-guard.mjs.
// ESM for Node 20, minified, with a shebang and a createRequire banner so CommonJS dependencies
// (semver, cbor-x fallbacks, @kubernetes/client-node's deps) can still call require() for Node built-ins.
// The file runs with nothing beside it: no node_modules (test/integration/bundle.test.ts proves it).
// Usage: node scripts/bundle.mjs [--analyze]
import { build } from 'esbuild';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(root, 'dist', 'qdrant-upgrade-guard.mjs');
/** Target from the task: the bundle stays under 3 MiB (README "Performance"). */
const MAX_BYTES = 3 * 1024 * 1024;

await mkdir(path.dirname(outfile), { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['hook/cli.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  banner: {
    js: [
      '#!/usr/bin/env node',
      'import { createRequire as __qugCreateRequire } from "node:module";',
      'const require = __qugCreateRequire(import.meta.url);',
    ].join('\n'),
  },
});
await chmod(outfile, 0o755);
await writeFile(path.join(root, 'dist', 'meta.json'), JSON.stringify(result.metafile));

const { size } = await stat(outfile);
console.log(`bundle: ${path.relative(root, outfile)} ${(size / 1024 / 1024).toFixed(2)} MiB (${size} bytes)`);
if (process.argv.includes('--analyze')) {
  const inputs = Object.entries(result.metafile.outputs[path.relative(root, outfile)]?.inputs ?? {});
  const byPackage = new Map();
  for (const [file, info] of inputs) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = m ? m[1] : 'hook';
    byPackage.set(key, (byPackage.get(key) ?? 0) + info.bytesInOutput);
  }
  for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${(v / 1024).toFixed(0).padStart(6)} KiB  ${k}`);
}
if (size > MAX_BYTES) {
  console.error(`bundle is ${size} bytes, over the ${MAX_BYTES}-byte budget`);
  process.exit(1);
}
