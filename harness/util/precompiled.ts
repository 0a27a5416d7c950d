/**
 * Validators generated ahead of time, by schema key (validators.ts). Empty
 * here, from source; scripts/build.js puts the generated module in this
 * file's place in the compiled CLI.
 */
import type { ValidateFunction } from 'ajv';

export const PRECOMPILED: Record<string, ValidateFunction> = {};
