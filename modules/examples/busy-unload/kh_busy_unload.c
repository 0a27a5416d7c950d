// SPDX-License-Identifier: GPL-2.0
/*
 * kh_busy_unload: takes a reference on itself at load and never drops it, so
 * rmmod is refused ("in use") as it is for a module something still holds.
 * kharness must say the module could not be unloaded, not pass its cycle.
 */
#include <linux/module.h>

static int __init kh_busy_unload_init(void)
{
	return try_module_get(THIS_MODULE) ? 0 : -EBUSY;
}

static void __exit kh_busy_unload_exit(void)
{
}

module_init(kh_busy_unload_init);
module_exit(kh_busy_unload_exit);
MODULE_DESCRIPTION("kharness example: cannot be unloaded");
MODULE_LICENSE("GPL");
