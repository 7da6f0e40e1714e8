#!/usr/bin/env node
// Runs slipstream-restore on Node.js 24 (from the project's `node` package when the node on PATH
// is older).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const main = fileURLToPath(new URL('../core/cli/restore.ts', import.meta.url));
let nodeBin = process.execPath;
if (Number(process.versions.node.split('.')[0]) < 24) {
  nodeBin = createRequire(import.meta.url).resolve('node/bin/node');
}
// DEP0123: TLS to a node addressed by IP (the certificate is still checked against the IP)
const child = spawn(nodeBin, ['--no-node-snapshot', '--disable-warning=DEP0123', main, ...process.argv.slice(2)], { stdio: 'inherit' });
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
process.on('SIGINT', () => child.kill('SIGINT'));
