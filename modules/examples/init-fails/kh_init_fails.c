// SPDX-License-Identifier: GPL-2.0
/*
 * kh_init_fails: its init allocates, frees what it allocated, and returns
 * -ENODEV, as a driver does that finds no device. insmod fails; kharness must
 * name that per target, with insmod's message, and find no leak.
 */
#include <linux/module.h>
#include <linux/slab.h>

static int __init kh_init_fails_init(void)
{
	void *p = kmalloc(256, GFP_KERNEL);

	kfree(p);
	return -ENODEV;
}

module_init(kh_init_fails_init);
MODULE_DESCRIPTION("kharness example: init returns an error");
MODULE_LICENSE("GPL");
