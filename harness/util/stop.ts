/**
 * The process is stopping (Ctrl-C, SIGTERM): long waits that do not belong to
 * one run (a cache lock held by another process) check this and give up at
 * once, so the first Ctrl-C is never ignored. cli/main.ts aborts it.
 */
export const stopping = new AbortController();
