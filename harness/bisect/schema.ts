/**
 * A bisect's state file (<out>/bisect.json, run.ts's BisectState) as a JSON
 * Schema (draft-07): `bisect --resume` checks it before trusting any field,
 * so a damaged file is a one-line error naming file:line:column and the JSON
 * path, not a TypeError halfway through a search.
 */
const str = { type: 'string' };
const strings = { type: 'array', items: str };
const outcome = { type: 'string', enum: ['good', 'bad', 'skip', 'abort'] };

const candidate = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kernel', 'subject'],
  properties: { id: { type: 'string', minLength: 1 }, kernel: { type: 'string', minLength: 1 }, subject: str, configVersion: str },
};
const signature = {
  type: 'object',
  additionalProperties: false,
  required: ['step', 'what', 'reports'],
  properties: { step: str, what: strings, reports: strings },
};
const tested = {
  type: 'object',
  additionalProperties: false,
  required: ['outcome', 'reason', 'flaky', 'ms', 'runDirs'],
  properties: {
    outcome,
    reason: str,
    flaky: { type: 'boolean' },
    ms: { type: 'number', minimum: 0 },
    runDirs: strings,
    outcomes: { type: 'array', items: outcome },
    failure: {
      type: 'object',
      required: ['step', 'failures', 'dmesg'],
      properties: { step: str, failures: { type: 'array' }, dmesg: strings },
    },
    signature,
    samples: { type: 'array', items: { type: 'number' } },
  },
};

export const bisectStateSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'kharness bisect state (bisect.json)',
  type: 'object',
  additionalProperties: false,
  required: ['mode', 'arch', 'scenarioFile', 'repeat', 'candidates', 'good', 'tested'],
  properties: {
    mode: { type: 'string', enum: ['git', 'kernels'] },
    repo: str,
    arch: { type: 'string', minLength: 1 },
    scenarioFile: { type: 'string', minLength: 1 },
    step: str,
    repeat: { type: 'integer', minimum: 1 },
    confirm: { type: 'integer', minimum: 1 },
    metric: {
      type: 'object',
      additionalProperties: false,
      required: ['step', 'fact', 'better'],
      properties: { step: str, fact: str, better: { type: 'string', enum: ['lower', 'higher'] }, rule: { type: 'object' } },
    },
    signature,
    find: { type: 'string', enum: ['regression', 'fix'] },
    candidates: { type: 'array', minItems: 1, items: candidate },
    good: candidate,
    tested: { type: 'object', additionalProperties: tested },
    result: {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      properties: {
        kind: { type: 'string', enum: ['done', 'ambiguous'] },
        firstBad: candidate,
        lastGood: candidate,
        skipped: { type: 'array', items: candidate },
        confirmation: {
          type: 'object',
          additionalProperties: false,
          required: ['confirmed', 'reason', 'runs', 'runDirs'],
          properties: { confirmed: { type: 'boolean' }, reason: str, runs: { type: 'integer', minimum: 0 }, runDirs: strings },
        },
      },
    },
  },
} as const;
