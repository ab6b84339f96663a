// Container logs as the kubelet keeps them: one file per container instance (restart), each line in the CRI format
// `<RFC3339Nano time> <stdout|stderr> F <text>`, so the kubelet endpoint can filter by sinceTime/sinceSeconds, cut
// tailLines and limitBytes, add timestamps, and follow. The line parsing and selection is pure; the writer does I/O.
import fs from 'node:fs';
import type { Readable } from 'node:stream';

export interface LogLine {
  /** RFC3339Nano as written. */
  time: string;
  ms: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** RFC3339 with nine fraction digits; `seq` orders lines written in the same millisecond. */
export function formatTime(ms: number, seq = 0): string {
  const iso = new Date(ms).toISOString(); // 2026-01-02T03:04:05.678Z
  return `${iso.slice(0, 23)}${String(seq % 1_000_000).padStart(6, '0')}Z`;
}

export function formatLine(l: LogLine): string {
  return `${l.time} ${l.stream} F ${l.text}\n`;
}

export function parseLine(raw: string): LogLine | undefined {
  const a = raw.indexOf(' ');
  const b = raw.indexOf(' ', a + 1);
  const c = raw.indexOf(' ', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const time = raw.slice(0, a);
  const stream = raw.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return undefined;
  return { time, ms, stream, text: raw.slice(c + 1) };
}

export function parseLog(content: string): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of content.split('\n')) {
    if (!raw) continue;
    const l = parseLine(raw);
    if (l) out.push(l);
  }
  return out;
}

export interface LogQuery {
  /** Lines at or after this time (ms since epoch). sinceSeconds is turned into this by the caller. */
  sinceMs?: number;
  tailLines?: number;
  timestamps?: boolean;
  limitBytes?: number;
}

/** Applies since, then tail, like the kubelet (`kuberuntime_logs.go`): tail counts lines after the since filter. */
export function selectLines(lines: readonly LogLine[], q: LogQuery): LogLine[] {
  let out = q.sinceMs === undefined ? [...lines] : lines.filter((l) => l.ms >= q.sinceMs!);
  if (q.tailLines !== undefined && q.tailLines >= 0) out = q.tailLines === 0 ? [] : out.slice(-q.tailLines);
  return out;
}

export function renderLine(l: LogLine, timestamps: boolean): string {
  return timestamps ? `${l.time} ${l.text}\n` : `${l.text}\n`;
}

/** The message `terminationMessagePolicy: FallbackToLogsOnError` uses: the last 80 lines, at most 2048 bytes. */
export function fallbackMessage(lines: readonly LogLine[]): string {
  let text = lines
    .slice(-80)
    .map((l) => l.text)
    .join('\n');
  const buf = Buffer.from(text, 'utf8');
  if (buf.length > 2048) text = buf.subarray(buf.length - 2048).toString('utf8');
  return text;
}

/** Appends a process's stdout and stderr to one log file, line by line, each line stamped when it arrives. */
export class ContainerLogWriter {
  private readonly fd: number;
  private seq = 0;
  private lastMs = 0;
  private open = 0;
  private closed = false;
  private readonly drained: Promise<void>;
  private resolveDrained!: () => void;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
    this.drained = new Promise((r) => (this.resolveDrained = r));
  }

  private write(stream: 'stdout' | 'stderr', text: string): void {
    if (this.closed) return;
    const now = Date.now();
    this.seq = now === this.lastMs ? this.seq + 1 : 0;
    this.lastMs = now;
    fs.writeSync(this.fd, formatLine({ time: formatTime(now, this.seq), ms: now, stream, text }));
  }

  /** Also writes a line of the stand-in itself (e.g. why a container could not start). */
  note(stream: 'stdout' | 'stderr', text: string): void {
    this.write(stream, text);
  }

  attach(source: Readable, stream: 'stdout' | 'stderr'): void {
    this.open++;
    let pending = '';
    source.setEncoding('utf8');
    source.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.write(stream, pending.slice(0, nl).replace(/\r$/, ''));
        pending = pending.slice(nl + 1);
      }
    });
    const done = () => {
      if (pending) this.write(stream, pending);
      pending = '';
      if (--this.open === 0) this.resolveDrained();
    };
    source.once('end', done);
    source.once('error', done);
  }

  /** Waits until every attached stream has ended (bounded), then closes the file. */
  async close(maxWaitMs = 2000): Promise<void> {
    if (this.closed) return;
    if (this.open > 0) await Promise.race([this.drained, new Promise((r) => setTimeout(r, maxWaitMs))]);
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
