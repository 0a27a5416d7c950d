// SPDX-License-Identifier: GPL-2.0
/*
 * kh_atomic: on every write of "poke", allocates with GFP_KERNEL (which may
 * sleep) while holding a spinlock (where sleeping is forbidden). With
 * CONFIG_DEBUG_ATOMIC_SLEEP the kernel says so: "BUG: sleeping function
 * called from invalid context".
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

static DEFINE_SPINLOCK(kh_lock);
static void *last;

static int poke_set(const char *val, const struct kernel_param *kp)
{
	void *p;

	spin_lock(&kh_lock);
	p = kmalloc(64, GFP_KERNEL);	/* The bug: GFP_ATOMIC belongs here. */
	kfree(last);
	last = p;
	spin_unlock(&kh_lock);
	return p ? 0 : -ENOMEM;
}

static const struct kernel_param_ops poke_ops = { .set = poke_set };
module_param_cb(poke, &poke_ops, NULL, 0200);

static int __init kh_atomic_init(void)
{
	return 0;
}

static void __exit kh_atomic_exit(void)
{
	kfree(last);
}

module_init(kh_atomic_init);
module_exit(kh_atomic_exit);
MODULE_DESCRIPTION("kharness example: GFP_KERNEL under a spinlock");
MODULE_LICENSE("GPL");
