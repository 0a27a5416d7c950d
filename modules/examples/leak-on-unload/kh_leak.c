// SPDX-License-Identifier: GPL-2.0
/*
 * kh_leak: allocates three 128-byte objects and 1 MiB of vmalloc memory at
 * load, keeps pointers to them while loaded, and forgets to free them on
 * unload. Once it is gone nothing points at them: kmemleak reports them, the
 * vmalloc area stays counted in VmallocUsed, and the kernel carries on.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

/*
 * Not static: a static array that nothing reads (exit frees nothing) lets
 * the compiler drop the stores, and the objects would leak at load already.
 */
void *kh_leak_objs[3];
void *kh_leak_area;

/* Not __init: its frames still resolve while the module is loaded. */
static noinline int kh_leak_alloc(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(kh_leak_objs); i++) {
		kh_leak_objs[i] = kmalloc(128, GFP_KERNEL);
		if (!kh_leak_objs[i])
			return -ENOMEM;
		memset(kh_leak_objs[i], 0x5a, 128);
	}
	kh_leak_area = vmalloc(1 << 20);
	if (!kh_leak_area)
		return -ENOMEM;
	memset(kh_leak_area, 0x5a, 1 << 20);
	return 0;
}

static int poke_set(const char *val, const struct kernel_param *kp)
{
	return 0;
}

static const struct kernel_param_ops poke_ops = { .set = poke_set };
module_param_cb(poke, &poke_ops, NULL, 0200);

static int __init kh_leak_init(void)
{
	return kh_leak_alloc();
}

static void __exit kh_leak_exit(void)
{
	/* The bug: kh_leak_objs[] and kh_leak_area are never freed. */
}

module_init(kh_leak_init);
module_exit(kh_leak_exit);
MODULE_DESCRIPTION("kharness example: leaks on unload");
MODULE_LICENSE("GPL");
