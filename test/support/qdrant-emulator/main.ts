/**
 * The Qdrant emulator as a process (a TEST DOUBLE for the qdrant binary; see index.ts for what it
 * emulates and what it does not). The kubelet stand-in runs it in place of the Qdrant container:
 *
 *   node --import tsx test/support/qdrant-emulator/main.ts --host <pod IP> [--port 6333] [--p2p-port 6335]
 *        --storage <dir> [--snapshots <dir>] --version <x.y.z | vx.y.z | x.y.z-unprivileged>
 *        [--uri <p2p uri>] [--bootstrap <p2p uri>] [--log-file <file>] [--color] [--config-path <file>]
 *        [--tls-cert <pem> --tls-key <pem>]
 *
 * Environment, as the Qdrant container gets it: QDRANT__SERVICE__API_KEY, QDRANT__SERVICE__READ_ONLY_API_KEY,
 * QDRANT__CLUSTER__ENABLED, QDRANT__LOGGER__FORMAT=json, QDRANT__SERVICE__HTTP_PORT, QDRANT__CLUSTER__P2P__PORT,
 * QDRANT__STORAGE__STORAGE_PATH, QDRANT__STORAGE__SNAPSHOTS_PATH, QDRANT__CLUSTER__PEER_ID (1.15+), RUN_MODE,
 * QDRANT_INIT_FILE_PATH (touched once started);
 * plus the emulator's own:
 *   QDRANT_EMULATOR_RESOLVE_FILE        JSON {hostname: ip}, re-read when it changes (peer URIs)
 *   QDRANT_EMULATOR_FAULT               healthy | lag[:ms] | new-peer-id | metadata-loop | unreachable |
 *                                       shards-dead[:Dead|Partial] | not-ready | consensus-stopped[:err]
 *   QDRANT_EMULATOR_VERSION             when --version is absent
 *   QDRANT_EMULATOR_DEFAULT_COLLECTION  name:shards:replicas (replicas `all` = every peer), or `none`; default demo:1:all
 *   QDRANT_EMULATOR_TIMING              e.g. pollMs=100,electionTimeoutMs=500,loopCap=300
 *   QDRANT_EMULATOR_COLOR               true to force ANSI colours (default: when stdout is a TTY)
 * Config files: <cwd>/config/config.yaml, <cwd>/config/$RUN_MODE.yaml (production), local.yaml; env overrides.
 * TLS on the REST port as Qdrant has it: `service.enable_tls` (QDRANT__SERVICE__ENABLE_TLS) with `tls.cert` and
 * `tls.key` (or --tls-cert/--tls-key) serve HTTPS on the REST port; the p2p port is unchanged. This wrapper terminates
 * TLS and forwards to the emulated peer listening on an ephemeral loopback-side port of the same host. An absolute
 * TLS path that does not exist is looked up below the parent of the working dir: the kubelet stand-in runs Qdrant in
 * a private root whose `/qdrant` is the working dir, with each volume mount linked at its mount path below it.
 * SIGTERM and SIGINT stop it cleanly with exit code 0. Exit 2 on bad arguments, 1 when start-up fails.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { EmulatorLog } from './log.js';
import { parseFault } from './faults.js';
import { EmulatedPeer } from './peer.js';
import { ArgError, parseArgs, parseDefaultCollection, parseTiming } from './main-args.js';
import { chainResolvers, fileResolver } from './resolve.js';
import { fakeCommitSha, normaliseVersion, versionAtLeast } from './version.js';
import { loadConfigFiles, parseBool, setting, type ConfigTree } from './config.js';

function usage(message: string): never {
  process.stderr.write(`qdrant-emulator: ${message}\nsee the header of test/support/qdrant-emulator/main.ts for usage\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let args;
  let defaultCollection;
  let timing;
  try {
    args = parseArgs(process.argv.slice(2));
    defaultCollection = parseDefaultCollection(process.env.QDRANT_EMULATOR_DEFAULT_COLLECTION);
    timing = parseTiming(process.env.QDRANT_EMULATOR_TIMING);
  } catch (err) {
    if (err instanceof ArgError) usage(err.message);
    throw err;
  }
  if (args.help) usage('help requested');
  const env = process.env;
  const { tree } = loadConfigFiles(process.cwd(), env, args['config-path'] as string | undefined);

  const rawVersion = (args.version as string | undefined) ?? env.QDRANT_EMULATOR_VERSION;
  if (!rawVersion) usage('--version is required');
  let version: string;
  try {
    version = normaliseVersion(rawVersion);
  } catch (err) {
    usage((err as Error).message);
  }
  let fault;
  try {
    fault = parseFault(env.QDRANT_EMULATOR_FAULT);
  } catch (err) {
    usage((err as Error).message);
  }

  const host = (args.host as string | undefined) ?? setting(tree, env, 'service.host') ?? '127.0.0.1';
  const port = Number((args.port as string | undefined) ?? setting(tree, env, 'service.http_port') ?? 6333);
  const tls = tlsFiles(args, tree, env);
  const p2pPort = Number((args['p2p-port'] as string | undefined) ?? setting(tree, env, 'cluster.p2p.port') ?? 6335);
  if (!Number.isInteger(port) || !Number.isInteger(p2pPort)) usage('ports must be integers');
  const storageDir = path.resolve(
    (args.storage as string | undefined) ?? setting(tree, env, 'storage.storage_path') ?? './storage',
  );
  const snapshotsDir = path.resolve(
    (args.snapshots as string | undefined) ?? setting(tree, env, 'storage.snapshots_path') ?? './snapshots',
  );
  const clusterEnabled = parseBool(setting(tree, env, 'cluster.enabled'), false);
  const format = setting(tree, env, 'logger.format') === 'json' ? 'json' : 'text';
  const color = args['no-color'] ? false : args.color ? true : parseBool(env.QDRANT_EMULATOR_COLOR, process.stdout.isTTY === true);
  const logFile = args['log-file'] as string | undefined;
  const log = new EmulatorLog({ format, color, stream: process.stdout, ...(logFile ? { file: logFile } : {}), memoryCap: 10_000 });

  if (args.reinit) {
    // docs/qdrant-facts.md#upgrade-rules: --reinit drops the consensus state (the data stays).
    fs.rmSync(path.join(storageDir, 'raft_state.json'), { force: true });
    fs.rmSync(path.join(storageDir, 'collections_meta_wal'), { recursive: true, force: true });
  }

  const peerIdEnv = setting(tree, env, 'cluster.peer_id');
  let freshPeerId: string | undefined;
  if (peerIdEnv) {
    if (!/^[1-9][0-9]*$/.test(peerIdEnv)) usage(`QDRANT__CLUSTER__PEER_ID must be a positive integer, got ${peerIdEnv}`);
    if (versionAtLeast(version, '1.15.0')) freshPeerId = peerIdEnv;
    else log.warn('qdrant', `QDRANT__CLUSTER__PEER_ID is only honoured since 1.15.0; ignored on ${version}`);
  }

  const resolveFile = env.QDRANT_EMULATOR_RESOLVE_FILE;
  const apiKey = setting(tree, env, 'service.api_key') || undefined;
  const readOnlyApiKey = setting(tree, env, 'service.read_only_api_key') || undefined;
  let peer: EmulatedPeer;
  try {
    peer = await EmulatedPeer.start({
      name: (args.name as string | undefined) ?? env.HOSTNAME ?? 'qdrant',
      host,
      // Behind the TLS front the peer's own REST listener takes any free port.
      port: tls ? 0 : port,
      p2pPort,
      storageDir,
      snapshotsDir,
      version,
      commitSha: fakeCommitSha(version),
      clusterEnabled,
      ...(args.uri ? { uri: args.uri as string } : {}),
      ...(args.bootstrap ? { bootstrap: args.bootstrap as string } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(readOnlyApiKey ? { readOnlyApiKey } : {}),
      fault,
      ...(freshPeerId ? { freshPeerId } : {}),
      defaultCollection,
      resolver: chainResolvers(resolveFile ? fileResolver(resolveFile) : undefined),
      log,
      timing,
      // A panic after start-up ends the process as Qdrant's does (exit 101), so the kubelet restarts it.
      onPanic: (code) => process.exit(code),
    });
  } catch (err) {
    log.error('qdrant', `Failed to start: ${(err as Error).message}`);
    process.exit(1);
  }

  if (tls && peer.boundPort) {
    try {
      await serveTls(host, port, peer.boundPort, tls);
      log.info('actix', `TLS enabled on the REST port ${port} (certificate ${tls.certPath})`);
    } catch (err) {
      log.error('qdrant', `Failed to start the TLS listener on ${host}:${port}: ${(err as Error).message}`);
      process.exit(1);
    }
  }

  // Qdrant touches QDRANT_INIT_FILE_PATH once it has started (the official chart points it at an emptyDir).
  const initFile = env.QDRANT_INIT_FILE_PATH;
  if (initFile) {
    try {
      fs.mkdirSync(path.dirname(initFile), { recursive: true });
      fs.closeSync(fs.openSync(initFile, 'a'));
    } catch (err) {
      log.warn('qdrant', `Failed to create init file ${initFile}: ${(err as Error).message}`);
    }
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('qdrant', `Received ${signal}, stopping`);
    peer.stop().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Keep the event loop alive even when the peer listens on nothing (fault "unreachable").
  setInterval(() => undefined, 1 << 30);
}

interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  certPath: string;
}

/** The REST port's certificate and key when TLS is on (see the header); exits 2 when they cannot be read. */
function tlsFiles(args: Record<string, string | boolean | undefined>, tree: ConfigTree, env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const flagCert = args['tls-cert'] as string | undefined;
  const on = flagCert !== undefined || parseBool(setting(tree, env, 'service.enable_tls'), false);
  if (!on) return undefined;
  const certPath = flagCert ?? setting(tree, env, 'tls.cert');
  const keyPath = (args['tls-key'] as string | undefined) ?? setting(tree, env, 'tls.key');
  if (!certPath || !keyPath) usage('service.enable_tls needs tls.cert and tls.key (or --tls-cert and --tls-key)');
  const read = (p: string): Buffer => {
    const candidates = [path.resolve(p)];
    if (path.isAbsolute(p)) candidates.push(path.join(process.cwd(), '..', p));
    for (const c of candidates) if (fs.existsSync(c)) return fs.readFileSync(c);
    usage(`TLS file ${p} not found (looked at ${candidates.join(', ')})`);
  };
  return { cert: read(certPath), key: read(keyPath), certPath };
}

/** HTTPS on host:port, every request forwarded to the peer's plain listener on host:innerPort. */
function serveTls(host: string, port: number, innerPort: number, files: TlsFiles): Promise<void> {
  const server = https.createServer({ cert: files.cert, key: files.key }, (req, res) => {
    const upstream = http.request({ host, port: innerPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`emulator TLS front: ${err.message}`);
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

void main();
