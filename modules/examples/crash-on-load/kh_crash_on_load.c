// SPDX-License-Identifier: GPL-2.0
/*
 * kh_crash_on_load: its init calls BUG(), as a driver does on an impossible
 * state. The kernel reports it and kills insmod (the guest panics when the
 * kernel panics on oops); kharness must record the report against the load.
 */
#include <linux/module.h>

static int __init kh_crash_on_load_init(void)
{
	BUG();
	return 0;
}

module_init(kh_crash_on_load_init);
MODULE_DESCRIPTION("kharness example: crashes the kernel at load");
MODULE_LICENSE("GPL");
