// SPDX-License-Identifier: GPL-2.0
/*
 * kh_overflow: on every write of "poke", writes one byte past the end of a
 * kmalloc(size) buffer (size: a parameter, 32 by default, so the compiler
 * cannot see the overflow), `tries` times. SLUB debug finds the damaged red
 * zone when the buffer is freed; KASAN at the write; KFENCE, when one of the
 * tries landed on a guarded object, at the free.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/slab.h>

static int size = 32;
module_param(size, int, 0444);
static int tries = 1;
module_param(tries, int, 0444);

static int poke_set(const char *val, const struct kernel_param *kp)
{
	int i;

	for (i = 0; i < tries; i++) {
		char *p = kmalloc(size, GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		p[size] = 0x41;	/* The bug: one byte past the end. */
		kfree(p);
		if (tries > 1)
			usleep_range(1000, 2000);
	}
	return 0;
}

static const struct kernel_param_ops poke_ops = { .set = poke_set };
module_param_cb(poke, &poke_ops, NULL, 0200);

static int __init kh_overflow_init(void)
{
	return 0;
}

static void __exit kh_overflow_exit(void)
{
}

module_init(kh_overflow_init);
module_exit(kh_overflow_exit);
MODULE_DESCRIPTION("kharness example: writes past a kmalloc'd buffer");
MODULE_LICENSE("GPL");
