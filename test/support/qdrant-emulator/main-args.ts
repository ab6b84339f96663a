/**
 * Argument and variable parsing of the emulator process (main.ts), kept apart so tests can call it.
 * Errors are ArgError; main.ts turns them into exit code 2.
 */
import { DEFAULT_TIMING, type CollectionSpec, type Timing } from './peer.js';

export class ArgError extends Error {}

function usage(message: string): never {
  throw new ArgError(message);
}

export interface Args {
  [flag: string]: string | boolean | undefined;
}

const VALUE_FLAGS = new Set([
  'host',
  'port',
  'p2p-port',
  'storage',
  'snapshots',
  'version',
  'uri',
  'bootstrap',
  'log-file',
  'config-path',
  'name',
  'tls-cert',
  'tls-key',
]);
const BOOL_FLAGS = new Set(['color', 'no-color', 'reinit', 'disable-telemetry', 'stacktrace', 'help']);


export function parseArgs(argv: string[]): Args {
  const out: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) usage(`unexpected argument ${JSON.stringify(a)}`);
    const [flag, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (VALUE_FLAGS.has(flag)) {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`--${flag} needs a value`);
      out[flag] = v;
    } else if (BOOL_FLAGS.has(flag)) {
      out[flag] = true;
    } else {
      usage(`unknown flag --${flag}`);
    }
  }
  return out;
}

export function parseDefaultCollection(text: string | undefined): CollectionSpec | null {
  if (text === undefined || text === '') return { name: 'demo', shardNumber: 1, replicationFactor: 'all' };
  if (text === 'none') return null;
  const [name, shards = '1', replicas = 'all'] = text.split(':');
  const shardNumber = Number(shards);
  if (!name || !Number.isInteger(shardNumber) || shardNumber < 1) usage(`bad QDRANT_EMULATOR_DEFAULT_COLLECTION ${text}`);
  const rf = replicas === 'all' ? 'all' : Number(replicas);
  if (rf !== 'all' && (!Number.isInteger(rf) || rf < 1)) usage(`bad replica count in QDRANT_EMULATOR_DEFAULT_COLLECTION ${text}`);
  return { name, shardNumber, replicationFactor: rf };
}

export function parseTiming(text: string | undefined): Timing {
  const t: Timing = { ...DEFAULT_TIMING };
  for (const part of (text ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!k || !(k in t) || !Number.isFinite(Number(v))) usage(`bad QDRANT_EMULATOR_TIMING entry ${part}`);
    (t as unknown as Record<string, number>)[k] = Number(v);
  }
  return t;
}

