#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx: no build step between a git
// checkout and a working `kharness`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../harness/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
