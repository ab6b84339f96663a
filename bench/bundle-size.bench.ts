/** Size of the single-file bundle (dist/qdrant-upgrade-guard.mjs). Target: under 3 MiB. */
import { promises as fs } from 'node:fs';
import { bundlePath, ensureBundle, verdict } from './lib.js';

ensureBundle();
const { size } = await fs.stat(bundlePath);
console.log(`bundle size: ${(size / 1048576).toFixed(2)} MiB (${size} bytes) (target < 3 MiB: ${verdict(size < 3 * 1048576)})`);
