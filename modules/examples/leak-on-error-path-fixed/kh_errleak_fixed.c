// SPDX-License-Identifier: GPL-2.0
/*
 * kh_errleak_fixed: leak-on-error-path (kh_errleak) with its unwinding
 * right: whichever of the ten allocations fails, everything allocated
 * before it is freed. `kharness check-module
 * modules/examples/leak-on-error-path-fixed --inject-sweep` passes, and so
 * does the same sweep over its poke parameter (which gives everything back
 * and sets up again).
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#define KH_SMALL 6
#define KH_LATE 3

static void *kh_small[KH_SMALL];
static void *kh_area;
static void *kh_late[KH_LATE];

static noinline int kh_errleak_fixed_setup(void)
{
	int i, j;

	for (i = 0; i < KH_SMALL; i++) {
		kh_small[i] = kmalloc(64, GFP_KERNEL);
		if (!kh_small[i])
			goto free_small;
	}
	kh_area = vmalloc(64 * 1024);
	if (!kh_area)
		goto free_small;
	for (j = 0; j < KH_LATE; j++) {
		kh_late[j] = kzalloc(128, GFP_KERNEL);
		if (!kh_late[j])
			goto free_late;
	}
	return 0;

free_late:
	while (j--)
		kfree(kh_late[j]);
	vfree(kh_area);
free_small:
	while (i--)
		kfree(kh_small[i]);
	memset(kh_small, 0, sizeof(kh_small));
	memset(kh_late, 0, sizeof(kh_late));
	kh_area = NULL;
	return -ENOMEM;
}

static int __init kh_errleak_fixed_init(void)
{
	return kh_errleak_fixed_setup();
}

static void kh_errleak_fixed_teardown(void)
{
	int i;

	for (i = 0; i < KH_LATE; i++)
		kfree(kh_late[i]);
	vfree(kh_area);
	for (i = 0; i < KH_SMALL; i++)
		kfree(kh_small[i]);
	memset(kh_small, 0, sizeof(kh_small));
	memset(kh_late, 0, sizeof(kh_late));
	kh_area = NULL;
}

static void __exit kh_errleak_fixed_exit(void)
{
	kh_errleak_fixed_teardown();
}

/* Writing poke gives everything back and sets up again: the write returns what the setup did. */
static int poke_set(const char *val, const struct kernel_param *kp)
{
	kh_errleak_fixed_teardown();
	return kh_errleak_fixed_setup();
}

static const struct kernel_param_ops poke_ops = { .set = poke_set };
module_param_cb(poke, &poke_ops, NULL, 0200);

module_init(kh_errleak_fixed_init);
module_exit(kh_errleak_fixed_exit);
MODULE_DESCRIPTION("kharness example: leak-on-error-path with its error path fixed");
MODULE_LICENSE("GPL");
