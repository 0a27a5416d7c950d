// SPDX-License-Identifier: GPL-2.0
/*
 * kh_errleak: an init that makes ten allocations and gives them back when
 * one fails, with one mistake: when the vmalloc (the seventh) or anything
 * after it fails, the unwinding of the six small objects starts one too
 * late and the first 64-byte object is never freed. Nothing shows it until that allocation fails, which only
 * fault injection makes happen on demand: `kharness check-module
 * modules/examples/leak-on-error-path --inject-sweep` fails the load's
 * allocations one by one and names every index from the vmalloc's on
 * as leaking 64 bytes from kh_errleak_setup. Its twin, leak-on-error-path-fixed,
 * unwinds correctly and passes the same sweep.
 *
 * Writing its poke parameter gives everything back and sets up again, so
 * the same error path can be swept over an exercise too: `--inject-sweep
 * --exec 'echo 1 > /sys/module/kh_errleak/parameters/poke'`.
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

/* Not __init: kmemleak names the frames of code that is still there. */
static noinline int kh_errleak_setup(void)
{
	int i, j;

	for (i = 0; i < KH_SMALL; i++) {
		kh_small[i] = kmalloc(64, GFP_KERNEL);
		if (!kh_small[i])
			goto free_small;
	}
	kh_area = vmalloc(64 * 1024);
	if (!kh_area)
		goto free_all_small;
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
free_all_small:
	/* The mistake: the first object is skipped (should be i = KH_SMALL; while (i--)). */
	for (i = 1; i < KH_SMALL; i++)
		kfree(kh_small[i]);
	goto forget;
free_small:
	while (i--)
		kfree(kh_small[i]);
forget:
	/* Nothing is held after a failure (and the skipped object is no longer referenced). */
	memset(kh_small, 0, sizeof(kh_small));
	memset(kh_late, 0, sizeof(kh_late));
	kh_area = NULL;
	return -ENOMEM;
}

static int __init kh_errleak_init(void)
{
	return kh_errleak_setup();
}

static void kh_errleak_teardown(void)
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

static void __exit kh_errleak_exit(void)
{
	kh_errleak_teardown();
}

/* Writing poke gives everything back and sets up again: the write returns what the setup did. */
static int poke_set(const char *val, const struct kernel_param *kp)
{
	kh_errleak_teardown();
	return kh_errleak_setup();
}

static const struct kernel_param_ops poke_ops = { .set = poke_set };
module_param_cb(poke, &poke_ops, NULL, 0200);

module_init(kh_errleak_init);
module_exit(kh_errleak_exit);
MODULE_DESCRIPTION("kharness example: an error path that leaks when the vmalloc fails");
MODULE_LICENSE("GPL");
