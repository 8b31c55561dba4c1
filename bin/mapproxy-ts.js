#!/usr/bin/env node
// The `mapproxy-ts` command: runs the compiled CLI (npm ci builds dist/ through `prepare`).
import { runCommandLine } from '../dist/cli/main.js';

runCommandLine(process.argv.slice(2));
