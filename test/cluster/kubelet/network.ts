// Pod networking without a network: each pod gets its own loopback address (Linux routes all of 127.0.0.0/8 to lo,
// so a process can bind 127.1.x.y without set-up), and a resolve file maps pod DNS names to those addresses for the
// programs that honour it (the Qdrant emulator reads QDRANT_EMULATOR_RESOLVE_FILE).
import fs from 'node:fs';
import path from 'node:path';

/**
 * Hands out 127.<octet>.0.1 .. 127.<octet>.255.254 (octet 1 by default), round robin, so an address just released is
 * not reused at once (a client of the previous pod must not reach the new one).
 */
export class PodIpAllocator {
  private readonly used = new Set<string>();
  private next = 0;
  private static readonly SIZE = 256 * 254;

  constructor(private readonly octet = 1) {
    if (!Number.isInteger(octet) || octet < 1 || octet > 254) throw new Error(`pod IP octet ${octet} is not in 1..254`);
  }

  allocate(): string {
    for (let i = 0; i < PodIpAllocator.SIZE; i++) {
      const n = (this.next + i) % PodIpAllocator.SIZE;
      const ip = `127.${this.octet}.${Math.floor(n / 254)}.${(n % 254) + 1}`;
      if (!this.used.has(ip)) {
        this.used.add(ip);
        this.next = n + 1;
        return ip;
      }
    }
    throw new Error(`pod IP range 127.${this.octet}.0.0/16 exhausted`);
  }

  release(ip: string): void {
    this.used.delete(ip);
  }

  get inUse(): number {
    return this.used.size;
  }
}

export interface PodNames {
  name: string;
  namespace: string;
  hostname?: string;
  subdomain?: string;
}

/**
 * DNS names a pod answers to: its hostname, and with a subdomain (a StatefulSet's headless Service) the forms
 * `<host>.<subdomain>`, `.<namespace>`, `.svc`, `.svc.cluster.local`.
 */
export function podHostnames(p: PodNames): string[] {
  const host = p.hostname || p.name;
  const names = [host];
  if (p.hostname && p.hostname !== p.name) names.push(p.name);
  if (p.subdomain) {
    const base = `${host}.${p.subdomain}`;
    names.push(base, `${base}.${p.namespace}`, `${base}.${p.namespace}.svc`, `${base}.${p.namespace}.svc.cluster.local`);
  }
  return names;
}

/**
 * The resolve file: `{ "<hostname>": "<pod IP>" }`, rewritten atomically (temp file + rename) on every change; and
 * the same names as an /etc/hosts file (`hostsFile`) for real Qdrant, which resolves peer URIs through the system
 * resolver. The stand-in bind-mounts that file over /etc/hosts in each real Qdrant's own mount namespace, so it is
 * rewritten in place: a bind mount holds the inode, and a renamed-in file would never reach a running peer.
 */
export class ResolveFile {
  private readonly entries = new Map<string, { ip: string; names: string[] }>();

  constructor(
    readonly file: string,
    readonly hostsFile?: string,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.flush();
  }

  set(key: string, names: string[], ip: string): void {
    this.entries.set(key, { ip, names });
    this.flush();
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.flush();
  }

  /** Later pods win a name collision (two namespaces with the same pod name share the short name). */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const { ip, names } of this.entries.values()) for (const n of names) out[n] = ip;
    return out;
  }

  private flush(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.snapshot(), null, 1) + '\n');
    fs.renameSync(tmp, this.file);
    if (this.hostsFile) fs.writeFileSync(this.hostsFile, hostsText(this.snapshot()));
  }
}

/** /etc/hosts text: localhost, then one line per pod address with all its names. */
export function hostsText(names: Record<string, string>): string {
  const byIp = new Map<string, string[]>();
  for (const [name, ip] of Object.entries(names)) byIp.set(ip, [...(byIp.get(ip) ?? []), name]);
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const [ip, ns] of byIp) lines.push(`${ip}\t${ns.join(' ')}`);
  return lines.join('\n') + '\n';
}
