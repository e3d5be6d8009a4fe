#!/usr/bin/env node
// The `custodian` command (npx custodian ...): runs the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const code = await main(process.argv.slice(2));
// Long-running commands (signer, serve) resolve only when they stop.
process.exitCode = code;
