#!/usr/bin/env node
// Starts the Slipstream server on Node.js 24 (from the project's `node` package when the
// node on PATH is older), with the flags isolated-vm needs.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const main = fileURLToPath(new URL('../core/main.ts', import.meta.url));
let nodeBin = process.execPath;
if (Number(process.versions.node.split('.')[0]) < 24) {
  nodeBin = createRequire(import.meta.url).resolve('node/bin/node');
}
const child = spawn(nodeBin, ['--no-node-snapshot', main, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
