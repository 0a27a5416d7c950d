// SPDX-License-Identifier: GPL-2.0
/*
 * kh_nocheck: on every write of "poke", kmallocs `size` bytes (a parameter)
 * and writes to the result without checking it. Any allocation may fail;
 * one above KMALLOC_MAX_SIZE always does, and the write is then a NULL
 * pointer dereference: an oops.
 */
#include <linux/module.h>
#include <linux/slab.h>

static unsigned long size = 64;
module_param(size, ulong, 0444);

static int poke_set(const char *val, const struct kernel_param *kp)
{
	char *p = kmalloc(size, GFP_KERNEL | __GFP_NOWARN);

	p[0] = 1;	/* The bug: p may be NULL. */
	kfree(p);
	return 0;
}

static const struct kernel_param_ops poke_ops = { .set = poke_set };
module_param_cb(poke, &poke_ops, NULL, 0200);

static int __init kh_nocheck_init(void)
{
	return 0;
}

static void __exit kh_nocheck_exit(void)
{
}

module_init(kh_nocheck_init);
module_exit(kh_nocheck_exit);
MODULE_DESCRIPTION("kharness example: a missing check of an allocation's result");
MODULE_LICENSE("GPL");
