/**
 * Qdrant's log output (docs/qdrant-facts.md#log-lines): `tracing_subscriber` text lines
 * `2025-03-21T10:15:02.123456Z  INFO <target>: <message>`, optionally with ANSI colours, or one JSON
 * object per line (`logger.format: json`). Every line is also kept in memory for tests and appended
 * to a file when one is given.
 */
import fs from 'node:fs';

export type LogLevel = 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE';

export interface LogRecord {
  /** RFC 3339 UTC with microseconds, as tracing prints it. */
  timestamp: string;
  level: LogLevel;
  target: string;
  message: string;
  /** The line exactly as written (without ANSI codes, whatever the colour setting). */
  line: string;
}

export interface EmulatorLogOptions {
  format?: 'text' | 'json';
  /** ANSI colour codes on text lines, as Qdrant does when stdout is a terminal. */
  color?: boolean;
  /** Append every line here (created if missing). */
  file?: string;
  /** Also write lines to this stream (process mode: stdout). */
  stream?: NodeJS.WritableStream;
  /** Lines kept in memory; the oldest are dropped beyond it. */
  memoryCap?: number;
  /** Prefix for lines written to `stream` (in-process clusters echoing several peers). */
  streamPrefix?: string;
  /** Milliseconds since the epoch for timestamps; default the wall clock (a simulation passes its own). */
  now?: () => number;
}

const COLOURS: Record<LogLevel, string> = {
  ERROR: '\x1b[31m',
  WARN: '\x1b[33m',
  INFO: '\x1b[32m',
  DEBUG: '\x1b[34m',
  TRACE: '\x1b[35m',
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

let lastMicros = 0;
/**
 * Wall clock with microseconds; strictly increasing so log order is unambiguous. With `now`
 * (a simulation's virtual clock, in ms) the order is kept per log through `last`.
 */
export function timestampMicros(now?: () => number, last?: { micros: number }): string {
  const state = last ?? { micros: lastMicros };
  let micros = now ? Math.floor(now() * 1000) : Math.floor((performance.timeOrigin + performance.now()) * 1000);
  if (micros <= state.micros) micros = state.micros + 1;
  state.micros = micros;
  if (!last) lastMicros = micros;
  const iso = new Date(Math.floor(micros / 1000)).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, -1)}${String(micros % 1000).padStart(3, '0')}Z`;
}

export class EmulatorLog {
  private readonly buffer: LogRecord[] = [];
  private readonly last = { micros: 0 };
  private readonly opts: Required<Pick<EmulatorLogOptions, 'format' | 'color' | 'memoryCap'>> & EmulatorLogOptions;

  constructor(opts: EmulatorLogOptions = {}) {
    this.opts = { format: 'text', color: false, memoryCap: 200_000, ...opts };
  }

  get file(): string | undefined {
    return this.opts.file;
  }

  log(level: LogLevel, target: string, message: string): LogRecord {
    const timestamp = this.opts.now ? timestampMicros(this.opts.now, this.last) : timestampMicros();
    const plain =
      this.opts.format === 'json'
        ? JSON.stringify({ timestamp, level, fields: { message }, target })
        : `${timestamp} ${level.padStart(5)} ${target}: ${message}`;
    const record: LogRecord = { timestamp, level, target, message, line: plain };
    this.buffer.push(record);
    if (this.buffer.length > this.opts.memoryCap) this.buffer.splice(0, this.buffer.length - this.opts.memoryCap);
    const written =
      this.opts.format === 'text' && this.opts.color
        ? `${DIM}${timestamp}${RESET} ${COLOURS[level]}${level.padStart(5)}${RESET} ${DIM}${target}${RESET}${DIM}:${RESET} ${message}`
        : plain;
    if (this.opts.file) {
      try {
        fs.appendFileSync(this.opts.file, written + '\n');
      } catch {
        // The log file is a convenience; losing it must not stop the emulated peer.
      }
    }
    this.opts.stream?.write((this.opts.streamPrefix ?? '') + written + '\n');
    return record;
  }

  info(target: string, message: string): void {
    this.log('INFO', target, message);
  }
  warn(target: string, message: string): void {
    this.log('WARN', target, message);
  }
  error(target: string, message: string): void {
    this.log('ERROR', target, message);
  }
  debug(target: string, message: string): void {
    this.log('DEBUG', target, message);
  }

  records(): LogRecord[] {
    return [...this.buffer];
  }

  /** All lines joined with newlines, as `kubectl logs` would show them. */
  text(): string {
    return this.buffer.map((r) => r.line + '\n').join('');
  }
}

/** Log targets of the Qdrant modules whose lines the hooks look for (docs/qdrant-facts.md#log-lines). */
export const TARGET = {
  persistent: 'storage::content_manager::consensus::persistent',
  main: 'qdrant',
  consensus: 'qdrant::consensus',
  raft: 'raft::raft',
  actix: 'qdrant::actix',
  collection: 'collection::shards::replica_set',
  toc: 'storage::content_manager::toc',
  consensusManager: 'storage::content_manager::consensus_manager',
  dispatcher: 'storage::dispatcher',
  startup: 'qdrant::startup',
} as const;
