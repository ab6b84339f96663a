/**
 * qdrant-upgrade-guard CLI (DESIGN.md "Commands and their contract"). Parses, calls one command function
 * with a typed options object, renders its Report, and is the only place that maps results to exit codes:
 * 0 pass, 1 a check refused or failed, 2 usage, 3 infrastructure (or an internal error, said to be a bug).
 *
 * Each command is one small `defineCommand` block in COMMANDS. Command modules are imported lazily inside
 * `run`, so `inspect` does not pay for what `pre-upgrade` needs (e.g. @kubernetes/client-node).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import pkg from '../package.json' with { type: 'json' };
import { GuardError, exitCodeOfError, usageError, wrapError } from './errors.js';
import { exitCodeOf, render, type Report } from './report.js';

export type OutputFormat = 'text' | 'json';

export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface GlobalArgs {
  output: OutputFormat;
  maxStateBytes?: number;
}

/** What a command block receives: its own flags (camelCase) plus the global ones. */
export type Args = GlobalArgs & Record<string, unknown>;

export interface CommandSpec {
  command: string;
  describe: string;
  builder(y: Argv<GlobalArgs>): Argv<GlobalArgs>;
  run(args: Args, ctx: CliContext): Promise<Report>;
  /** Runs after `run`, with its report or its error (e.g. the termination message). */
  after?(args: Args, ctx: CliContext, outcome: { report?: Report; error?: GuardError }): Promise<void>;
}

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export const inspectCommand = defineCommand({
  command: 'inspect',
  describe: 'Describe a Qdrant storage dir: classification, peer id, term, commit, evidence (always exits 0)',
  builder: (y) =>
    y
      .option('storage', { type: 'string', demandOption: true, describe: 'Qdrant storage dir (storage_path)' })
      .option('archive-dir', { type: 'string', describe: 'Where archives live (default <storage>/.upgrade-guard)' }),
  run: async (a) => {
    const { runInspect } = await import('./commands/inspect.js');
    return runInspect({
      storage: a.storage as string,
      ...(str(a.archiveDir) ? { archiveDir: a.archiveDir as string } : {}),
      ...(num(a.maxStateBytes) ? { maxStateBytes: a.maxStateBytes! } : {}),
    });
  },
});

export const volumeCommand = defineCommand({
  command: 'volume',
  describe: 'Per-volume pre-upgrade step: classify, refuse a lost or corrupt raft state, archive it',
  builder: (y) =>
    y
      .option('storage', { type: 'string', demandOption: true, describe: 'Qdrant storage dir (storage_path)' })
      .option('from', { type: 'string', describe: 'Qdrant version running now (required unless --check-only)' })
      .option('to', { type: 'string', describe: 'Qdrant version after the upgrade (required unless --check-only)' })
      .option('archive-dir', { type: 'string', describe: 'Where to write archives (default <storage>/.upgrade-guard)' })
      .option('keep', { type: 'number', default: 5, describe: 'Archives of this volume to keep (0 keeps all)' })
      .option('pod', { type: 'string', describe: 'Pod name <statefulset>-<ordinal> (default $POD_NAME, then $HOSTNAME)' })
      .option('check-only', { type: 'boolean', default: false, describe: 'Classify and refuse only; write nothing (init container)' })
      .option('allow-version-skip', { type: 'boolean', default: false, describe: 'Let a skipped minor or major change pass with a warning' })
      .option('termination-message-path', { type: 'string', describe: 'Also write a compact JSON summary (< 4 KiB) here' }),
  run: async (a, ctx) => {
    const { runVolume } = await import('./commands/volume.js');
    const keep = num(a.keep);
    if (keep === undefined || keep < 0 || !Number.isInteger(keep)) throw usageError(`--keep must be a whole number >= 0, got ${String(a.keep)}`);
    const pod = str(a.pod) ?? str(ctx.env.POD_NAME) ?? str(ctx.env.HOSTNAME);
    return runVolume({
      storage: a.storage as string,
      ...(str(a.from) ? { from: a.from as string } : {}),
      ...(str(a.to) ? { to: a.to as string } : {}),
      ...(str(a.archiveDir) ? { archiveDir: a.archiveDir as string } : {}),
      keep,
      ...(pod ? { pod } : {}),
      checkOnly: a.checkOnly === true,
      allowVersionSkip: a.allowVersionSkip === true,
      ...(num(a.maxStateBytes) ? { maxStateBytes: a.maxStateBytes! } : {}),
    });
  },
  after: async (a, ctx, outcome) => {
    const file = str(a.terminationMessagePath);
    if (!file) return;
    const { terminationSummary, writeTerminationMessage } = await import('./commands/volume.js');
    const text = terminationSummary(outcome.report, outcome.error && { kind: outcome.error.kind, message: outcome.error.message });
    await writeTerminationMessage(file, text).catch((err: Error) => ctx.stderr(`warning: cannot write termination message ${file}: ${err.message}\n`));
  },
});

export const restoreCommand = defineCommand({
  command: 'restore',
  describe: 'Verify an archive and put its raft state back (Qdrant must be stopped on the volume)',
  builder: (y) =>
    y
      .option('archive', { type: 'string', demandOption: true, describe: 'Archive file (.tar.gz)' })
      .option('storage', { type: 'string', demandOption: true, describe: 'Qdrant storage dir to restore into' })
      .option('allow-peer-change', { type: 'boolean', default: false, describe: 'Restore over a valid state of another peer' }),
  run: async (a) => {
    const { runRestore } = await import('./commands/restore.js');
    return runRestore({ archive: a.archive as string, storage: a.storage as string, allowPeerChange: a.allowPeerChange === true });
  },
});

export const archivesCommand = defineCommand({
  command: 'archives',
  describe: 'List raft-state archives, newest first, verifying each (--no-verify: names only)',
  builder: (y) =>
    y
      .option('storage', { type: 'string', describe: 'Qdrant storage dir (archives in <storage>/.upgrade-guard)' })
      .option('archive-dir', { type: 'string', describe: 'Archive dir (e.g. the snapshots volume)' })
      .option('verify', { type: 'boolean', default: true, describe: 'Read each archive and check its checksums' }),
  run: async (a) => {
    const { runArchives } = await import('./commands/archives.js');
    return runArchives({
      ...(str(a.storage) ? { storage: a.storage as string } : {}),
      ...(str(a.archiveDir) ? { archiveDir: a.archiveDir as string } : {}),
      verify: a.verify !== false,
    });
  },
});

/** Every command, in help order. Add a command by appending its block here. */
export const COMMANDS: CommandSpec[] = [inspectCommand, volumeCommand, restoreCommand, archivesCommand];

function renderError(err: GuardError, output: OutputFormat, command: string, ctx: CliContext): void {
  const label = err.kind === 'internal' ? 'internal error (a bug)' : `${err.kind} error`;
  ctx.stderr(`ERROR (${label}): ${err.message}\n${err.remedy ? `  remedy: ${err.remedy}\n` : ''}`);
  if (output === 'json') {
    const doc = { schemaVersion: 1, command, error: { kind: err.kind, message: err.message, remedy: err.remedy, transient: err.transient } };
    ctx.stdout(JSON.stringify(doc, null, 2) + '\n');
  }
}

/**
 * Duck-typed on purpose: a lazily imported command module can end up with its own copy of errors.ts
 * (test runners' loaders do this), and then `instanceof GuardError` is false for a real GuardError.
 */
function isGuardError(err: unknown): err is GuardError {
  return err instanceof GuardError || (err instanceof Error && err.name === 'GuardError' && typeof (err as GuardError).kind === 'string');
}

function toGuardError(err: unknown): GuardError {
  return isGuardError(err) ? err : wrapError(err, 'unexpected error');
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code; never calls process.exit. */
export async function runCli(argv: string[], ctx: CliContext, commands: CommandSpec[] = COMMANDS): Promise<number> {
  let selected: { spec: CommandSpec; args: Args } | undefined;
  // Parse errors happen before yargs hands us --output, so look for it by hand.
  const outputOf = (): OutputFormat =>
    argv.some((x, i) => x === '--output=json' || (x === '--output' && argv[i + 1] === 'json')) ? 'json' : 'text';

  let y = yargs(argv)
    .scriptName('qdrant-upgrade-guard')
    .option('output', { choices: ['text', 'json'] as const, default: 'text' as OutputFormat, describe: 'Output format' })
    .option('max-state-bytes', { type: 'number', describe: 'Refuse state files larger than this (default 64 MiB)' })
    .strict()
    .demandCommand(1, 'Name a command.')
    .recommendCommands()
    .exitProcess(false)
    .version(pkg.version)
    .help()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      throw err ?? usageError(msg, 'Run qdrant-upgrade-guard --help.');
    }) as unknown as Argv<GlobalArgs>;
  for (const spec of commands) {
    y = y.command(spec.command, spec.describe, (b: Argv<GlobalArgs>) => spec.builder(b), (args) => {
      selected = { spec, args: args as unknown as Args };
    }) as unknown as Argv<GlobalArgs>;
  }

  try {
    await y.parseAsync();
  } catch (err) {
    const e = isGuardError(err) ? err : usageError(err instanceof Error ? err.message : String(err), 'Run qdrant-upgrade-guard --help.');
    renderError(e, outputOf(), argv[0] ?? '', ctx);
    return exitCodeOfError(e);
  }
  if (!selected) return 0; // --help or --version was printed

  const { spec, args } = selected;
  let report: Report | undefined;
  let error: GuardError | undefined;
  try {
    report = await spec.run(args, ctx);
  } catch (err) {
    error = toGuardError(err);
  }
  if (spec.after) await spec.after(args, ctx, { ...(report ? { report } : {}), ...(error ? { error } : {}) });
  if (error) {
    renderError(error, args.output, spec.command, ctx);
    return exitCodeOfError(error);
  }
  ctx.stdout(render(report!, args.output));
  return exitCodeOf(report!);
}

export function processContext(): CliContext {
  return {
    env: process.env,
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
  };
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    // Through npm's bin link or the image's /usr/local/bin symlink, argv[1] is the link: compare real paths.
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(hideBin(process.argv), processContext()).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ERROR (internal error, a bug): ${String(err)}\n`);
      process.exitCode = 3;
    },
  );
}
