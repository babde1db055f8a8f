#!/usr/bin/env node
// Entry point of the `switchyard` command: runs the compiled CLI (npm ci builds dist/ via `prepare`).
import('../dist/cli/main.js').catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
