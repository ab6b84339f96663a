#!/usr/bin/env node
// Launcher for the Qdrant emulator process (a test double, see index.ts) that works from any
// working directory: `node --import tsx` resolves tsx from the cwd, which fails when the kubelet
// stand-in runs the "container" in a pod folder. Here tsx resolves from the repo's node_modules.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
