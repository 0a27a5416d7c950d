// SPDX-License-Identifier: GPL-2.0
/*
 * kh_hang_in_init: its init waits for an event that never comes (sleeping,
 * not spinning: the guest stays alive), so insmod never returns. kharness
 * must stop the step at its timeout and say so, and go on with a fresh VM.
 */
#include <linux/delay.h>
#include <linux/module.h>

static int __init kh_hang_in_init_init(void)
{
	for (;;)
		msleep(1000);
	return 0;
}

module_init(kh_hang_in_init_init);
MODULE_DESCRIPTION("kharness example: init never returns");
MODULE_LICENSE("GPL");
