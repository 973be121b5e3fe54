#!/usr/bin/env node
// `npx secbot …` from a checkout: run the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
