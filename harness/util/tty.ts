/** Colour and CI detection in one place: NO_COLOR, FORCE_COLOR, --[no-]color, CI, and whether stdout is a TTY. */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CI && env.CI !== 'false' && env.CI !== '0');
}

export function useColor(o: { flag?: boolean; env?: NodeJS.ProcessEnv; isTTY?: boolean } = {}): boolean {
  const env = o.env ?? process.env;
  if (o.flag !== undefined) return o.flag;
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  if (isCI(env)) return false;
  return o.isTTY ?? Boolean(process.stdout.isTTY);
}
