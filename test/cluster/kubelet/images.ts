// Which local program stands in for a container image. There is no container runtime here: each mapped image runs
// as a host process (see test/cluster/README.md, "Image mapping"). Pure: no I/O.

export type ImageKind = 'hook' | 'qdrant' | 'sleeper' | 'shell';

export interface ImageRef {
  /** The image as written in the pod spec. */
  image: string;
  /** Repository without registry-independent normalisation, e.g. `docker.io/qdrant/qdrant`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export type ImageMapping =
  | { ok: true; kind: ImageKind; ref: ImageRef; qdrantVersion?: string }
  | { ok: false; ref: ImageRef; reason: string };

export function parseImage(image: string): ImageRef {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  // A colon before the last slash belongs to a registry port (`localhost:5000/x`), not to a tag.
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { image, repository: rest, tag, digest };
}

/** Repository path without a registry host: `docker.io/library/busybox` -> `busybox`, `ghcr.io/a/b` -> `a/b`. */
export function repositoryPath(repository: string): string {
  const parts = repository.split('/');
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) parts.shift();
  if (parts[0] === 'library' && parts.length > 1) parts.shift();
  return parts.join('/');
}

const SHELL_IMAGES = new Set(['busybox', 'alpine', 'debian', 'ubuntu', 'bash', 'local/shell']);

/** The Qdrant version an image tag names: `v1.13.6-unprivileged` -> `1.13.6`; undefined when the tag names none. */
export function qdrantVersionFromTag(tag: string | undefined): string | undefined {
  if (!tag) return undefined;
  const m = /^v?(\d+\.\d+\.\d+)(?:-unprivileged)?$/.exec(tag);
  return m ? m[1] : undefined;
}

export function mapImage(image: string): ImageMapping {
  const ref = parseImage(image);
  const path = repositoryPath(ref.repository);
  if (path.endsWith('qdrant-upgrade-guard')) return { ok: true, kind: 'hook', ref };
  if (path === 'qdrant/qdrant') {
    const qdrantVersion = qdrantVersionFromTag(ref.tag);
    if (!qdrantVersion) {
      return {
        ok: false,
        ref,
        reason: `the stand-in runs qdrant/qdrant as the Qdrant emulator at the version of the image tag; tag "${ref.tag ?? ''}" names no version (want vX.Y.Z or vX.Y.Z-unprivileged)`,
      };
    }
    return { ok: true, kind: 'qdrant', ref, qdrantVersion };
  }
  if (path === 'local/sleeper') return { ok: true, kind: 'sleeper', ref };
  if (SHELL_IMAGES.has(path)) return { ok: true, kind: 'shell', ref };
  return {
    ok: false,
    ref,
    reason: `image ${image} is not mapped by the kubelet stand-in (mapped: *qdrant-upgrade-guard, qdrant/qdrant:vX.Y.Z, local/sleeper, busybox/alpine/debian/ubuntu/bash/local/shell)`,
  };
}

/**
 * Which Qdrant a `qdrant/qdrant` container runs. A test pins it per release with this pod annotation (chart value
 * `podAnnotations`); the stand-in's env `STANDIN_QDRANT` sets the default for pods without it.
 *  - `auto` (default): the real binary of the tag's version when QDRANT_BIN_DIR has it, else the emulator;
 *  - `real`: the real binary, or the container waits in ErrImagePull saying which binary is missing;
 *  - `emulator`: the Qdrant emulator (a test double), e.g. for a fault only the emulator can show on demand.
 */
export const QDRANT_RUNTIME_ANNOTATION = 'e2e.qdrant-upgrade-guard/qdrant';
/** Set by the stand-in on every Qdrant pod it starts: `real <version> <binary>` or `emulator <version>`. */
export const QDRANT_RAN_ANNOTATION = 'e2e.qdrant-upgrade-guard/qdrant-ran';

export type QdrantRuntimeChoice = 'auto' | 'real' | 'emulator';

export function qdrantRuntimeChoice(
  annotations: Record<string, string> | undefined,
  standinDefault: string | undefined,
): { ok: true; choice: QdrantRuntimeChoice } | { ok: false; reason: string } {
  const valid = (v: string): v is QdrantRuntimeChoice => v === 'auto' || v === 'real' || v === 'emulator';
  const fromPod = annotations?.[QDRANT_RUNTIME_ANNOTATION];
  if (fromPod !== undefined) {
    return valid(fromPod)
      ? { ok: true, choice: fromPod }
      : { ok: false, reason: `pod annotation ${QDRANT_RUNTIME_ANNOTATION}="${fromPod}" is not one of auto, real, emulator` };
  }
  const d = standinDefault?.trim() || 'auto';
  return valid(d) ? { ok: true, choice: d } : { ok: false, reason: `STANDIN_QDRANT="${d}" (env of the kubelet stand-in) is not one of auto, real, emulator` };
}
