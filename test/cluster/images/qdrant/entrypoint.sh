#!/usr/bin/env bash
# Entrypoint of the e2e node's Qdrant image (scripts/images/build.mjs), at the path the official image has it
# (/qdrant/entrypoint.sh) so the chart's initialize.sh runs unchanged. It starts ./qdrant with the given arguments
# as PID 1's child-free replacement: signals reach Qdrant directly. The official script's recovery mode after an
# out-of-memory kill (QDRANT_ALLOW_RECOVERY_MODE, https://github.com/qdrant/qdrant/blob/v1.13.5/tools/entrypoint.sh)
# is not reproduced: no e2e scenario runs out of memory.
exec ./qdrant "$@"
