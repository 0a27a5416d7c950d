// SPDX-License-Identifier: GPL-2.0
/*
 * kh_uaf: on every write of "poke", reads a kmalloc'd object after kfree()
 * gave it back, `tries` times (a parameter). KASAN reports every read;
 * KFENCE guards one sampled allocation in many, so with it the module
 * repeats the bug until one of them lands on a guarded object.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/slab.h>

static int tries = 1;
module_param(tries, int, 0444);
static int sink;

static int poke_set(const char *val, const struct kernel_param *kp)
{
	int i;

	for (i = 0; i < tries; i++) {
		char *p = kmalloc(32, GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		p[0] = 1;
		kfree(p);
		sink += READ_ONCE(p[0]);	/* The bug: p was freed. */
		if (tries > 1)
			usleep_range(1000, 2000);
	}
	return 0;
}

static const struct kernel_param_ops poke_ops = { .set = poke_set };
module_param_cb(poke, &poke_ops, NULL, 0200);

static int __init kh_uaf_init(void)
{
	return 0;
}

static void __exit kh_uaf_exit(void)
{
}

module_init(kh_uaf_init);
module_exit(kh_uaf_exit);
MODULE_DESCRIPTION("kharness example: use after kfree");
MODULE_LICENSE("GPL");
