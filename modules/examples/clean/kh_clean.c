// SPDX-License-Identifier: GPL-2.0
/*
 * kh_clean: allocates at load and on every write of "poke", and frees all of
 * it again. kharness's detectors must report nothing.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

static void *objs[3];
static void *area;

static noinline int kh_clean_alloc(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(objs); i++) {
		objs[i] = kmalloc(128, GFP_KERNEL);
		if (!objs[i])
			return -ENOMEM;
	}
	area = vmalloc(1 << 20);
	return area ? 0 : -ENOMEM;
}

static void kh_clean_free(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(objs); i++)
		kfree(objs[i]);
	vfree(area);
}

static int poke_set(const char *val, const struct kernel_param *kp)
{
	char *p = kzalloc(64, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	p[63] = 1;
	kfree(p);
	return 0;
}

static const struct kernel_param_ops poke_ops = { .set = poke_set };
module_param_cb(poke, &poke_ops, NULL, 0200);

static int __init kh_clean_init(void)
{
	int err = kh_clean_alloc();

	if (err)
		kh_clean_free();
	return err;
}

static void __exit kh_clean_exit(void)
{
	kh_clean_free();
}

module_init(kh_clean_init);
module_exit(kh_clean_exit);
MODULE_DESCRIPTION("kharness example: allocates and frees everything");
MODULE_LICENSE("GPL");
