// Types of build.mjs for the TypeScript tests.
import type { WrittenImage } from './oci.mjs';
export const PAUSE_IMAGE: string;
export function imagesDir(): string;
export function normalizeRef(ref: string): string;
export function chartHookImage(): string;
export function dockerfileFinalStage(text: string): {
  env: Record<string, string>;
  labels: Record<string, string>;
  user?: string;
  workdir?: string;
  entrypoint?: string[];
  cmd?: string[];
};
export function buildPause(): WrittenImage;
export function buildHook(): WrittenImage;
export function qdrantVersions(): Promise<string[]>;
export function buildQdrant(version: string): Promise<WrittenImage[]>;
