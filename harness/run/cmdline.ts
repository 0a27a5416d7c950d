/**
 * Which of a scenario's kernel parameters change the booted kernel at all.
 * A parameter that only restates what the kernel's config already makes the
 * default (init_on_alloc=1 on a kernel built with INIT_ON_ALLOC_DEFAULT_ON)
 * boots the same kernel state as no parameter: such a scenario runs on the
 * target's shared machine instead of a VM of its own. Pure; the table is data.
 */

/** Boot parameters whose default a config option sets, with the value each state of the option means. */
export const PARAM_DEFAULTS: readonly { param: string; config: string; whenSet: boolean }[] = [
  { param: 'init_on_alloc', config: 'CONFIG_INIT_ON_ALLOC_DEFAULT_ON', whenSet: true },
  { param: 'init_on_free', config: 'CONFIG_INIT_ON_FREE_DEFAULT_ON', whenSet: true },
];

/** A boolean boot parameter's value as the kernel's kstrtobool() reads it, if it reads it. */
export function bootBool(v: string): boolean | undefined {
  if (/^(1|y|yes|on|true)$/i.test(v)) return true;
  if (/^(0|n|no|off|false)$/i.test(v)) return false;
  return undefined;
}

/** The parameters of `cmdline` that differ from the kernel's defaults, in their order. */
export function effectiveCmdline(cmdline: readonly string[], config: ReadonlyMap<string, string>): string[] {
  return cmdline.filter((p) => {
    const [name, value] = p.split('=', 2) as [string, string | undefined];
    const d = PARAM_DEFAULTS.find((x) => x.param === name);
    if (!d || value === undefined) return true;
    const asked = bootBool(value);
    const byDefault = config.get(d.config) === 'y' ? d.whenSet : !d.whenSet;
    return asked === undefined || asked !== byDefault;
  });
}
