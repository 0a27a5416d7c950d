// SPDX-License-Identifier: GPL-2.0
/*
 * kalloc_probe - runs kernel allocations on command and reports facts.
 *
 * Control file: /sys/kernel/debug/kalloc_probe/ctl
 * A request is one text line of key=value pairs written to the file; the
 * response is one line read back from the same open file. Responses start
 * with "status=ok" or "status=error errno=E msg=..." (msg is always last and
 * runs to the end of the line). A malformed request only ever gets an error
 * response: nothing in the parser may WARN, BUG or taint.
 *
 * Each request is bracketed by "kalloc_probe: begin seq=N" and
 * "kalloc_probe: end seq=N" in the kernel log so the harness can attribute
 * what the kernel printed (warnings, BUGs, allocation failures) to the
 * request that caused it, on the console and in /dev/kmsg alike.
 *
 * Builds against 5.10, 6.1, 6.12, 7.2 and 7.3: MAX_ORDER changed meaning in
 * 6.4 and became MAX_PAGE_ORDER in 6.8; __GFP_ATOMIC is gone from 6.3;
 * in_hardirq() exists from 5.11 (in_irq() before); hrtimer_setup() replaces
 * hrtimer_init() from 6.13 (hrtimer_init is gone in 7.x); kmalloc_nolock()
 * exists from 7.2; kmalloc and friends are macros from 6.10 (alloc tagging),
 * so they are only ever called directly. Which API exists on which version is
 * also data in the harness (probe/vocabulary.ts), so a step is skipped before
 * boot on a kernel that lacks its API; here an API compiled out answers
 * EOPNOTSUPP.
 *
 * alloc's inject=N fails the Nth allocation the request's own allocation
 * makes (fail-nth, CONFIG_FAULT_INJECTION): current->fail_nth is set right
 * before it and read back right after (0: the Nth was failed), then
 * cleared, so no other allocation of this task or any other is counted.
 * Which allocations count is the harness's to set (the failslab and
 * fail_page_alloc debugfs knobs).
 */
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/debugfs.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/ktime.h>
#include <linux/completion.h>
#include <linux/spinlock.h>
#include <linux/utsname.h>
#include <linux/version.h>
#include <linux/mutex.h>
#include <linux/list.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/preempt.h>
#include <linux/mmzone.h>
#include <linux/sort.h>
#include <linux/ctype.h>

#define KP_REQ_MAX 512
#define KP_RESP_MAX 1536
#define KP_NAME_MAX 32
#define KP_MAX_KEYS 16
#define KP_TIME_MAX_REPEAT 10000
/* Held allocations may not bring available memory below this: the OOM killer would take sshd. */
#define KP_HOLD_RESERVE_MB 64

#ifdef MAX_PAGE_ORDER
#define KP_MAX_ORDER MAX_PAGE_ORDER		/* 6.8+: inclusive, new name */
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define KP_MAX_ORDER MAX_ORDER			/* 6.4-6.7: inclusive */
#else
#define KP_MAX_ORDER (MAX_ORDER - 1)		/* before 6.4: exclusive */
#endif

#ifndef in_hardirq
#define in_hardirq() in_irq()			/* before 5.11 */
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 2, 0)
#define KP_HAS_KMALLOC_NOLOCK 1
#else
#define KP_HAS_KMALLOC_NOLOCK 0
#endif

struct kp_gfp_name {
	const char *name;
	gfp_t flags;
};

/* Names are resolved here, per kernel version, never in the harness. */
static const struct kp_gfp_name kp_gfp_names[] = {
	{ "GFP_KERNEL", GFP_KERNEL },
	{ "GFP_ATOMIC", GFP_ATOMIC },
	{ "GFP_NOWAIT", GFP_NOWAIT },
	{ "GFP_NOIO", GFP_NOIO },
	{ "GFP_NOFS", GFP_NOFS },
	{ "GFP_USER", GFP_USER },
	{ "GFP_DMA", GFP_DMA },
	{ "GFP_DMA32", GFP_DMA32 },
	{ "GFP_HIGHUSER", GFP_HIGHUSER },
	{ "GFP_KERNEL_ACCOUNT", GFP_KERNEL_ACCOUNT },
	{ "__GFP_DMA", __GFP_DMA },
	{ "__GFP_DMA32", __GFP_DMA32 },
	{ "__GFP_HIGHMEM", __GFP_HIGHMEM },
	{ "__GFP_ZERO", __GFP_ZERO },
	{ "__GFP_NOWARN", __GFP_NOWARN },
	{ "__GFP_NORETRY", __GFP_NORETRY },
	{ "__GFP_RETRY_MAYFAIL", __GFP_RETRY_MAYFAIL },
	{ "__GFP_NOFAIL", __GFP_NOFAIL },
	{ "__GFP_HIGH", __GFP_HIGH },
	{ "__GFP_IO", __GFP_IO },
	{ "__GFP_FS", __GFP_FS },
	{ "__GFP_DIRECT_RECLAIM", __GFP_DIRECT_RECLAIM },
	{ "__GFP_KSWAPD_RECLAIM", __GFP_KSWAPD_RECLAIM },
	{ "__GFP_RECLAIM", __GFP_RECLAIM },
	{ "__GFP_COMP", __GFP_COMP },
	{ "__GFP_MEMALLOC", __GFP_MEMALLOC },
	{ "__GFP_NOMEMALLOC", __GFP_NOMEMALLOC },
	{ "__GFP_ACCOUNT", __GFP_ACCOUNT },
#ifdef __GFP_ATOMIC
	{ "__GFP_ATOMIC", __GFP_ATOMIC },	/* removed in 6.3 */
#endif
};

/*
 * __vmalloc: vmalloc with the request's GFP flags (vmalloc itself is always
 * GFP_KERNEL). kmalloc_nolock: "from any context" (7.2+), only __GFP_ZERO and
 * __GFP_ACCOUNT allowed, freed with kfree_nolock().
 */
enum kp_api { API_KMALLOC, API_KZALLOC, API_KCALLOC, API_VMALLOC, API_VZALLOC, API_KVMALLOC, API_PAGES,
	      API_VMALLOC_GFP, API_KMALLOC_NOLOCK };
static const char *const kp_api_names[] = {
	"kmalloc", "kzalloc", "kcalloc", "vmalloc", "vzalloc", "kvmalloc", "pages",
	"__vmalloc", "kmalloc_nolock",
};

/*
 * atomic: under a spinlock_t with spin_lock_irqsave(), which on PREEMPT_RT is
 * a sleeping lock that leaves interrupts and preemption on. raw_atomic: under
 * a raw_spinlock_t with raw_spin_lock_irqsave(), truly atomic on every
 * preemption model. What each really was is reported (in_atomic,
 * irqs_disabled, preempt_count), never assumed from the name.
 */
enum kp_ctx { CTX_PROCESS, CTX_ATOMIC, CTX_SOFTIRQ, CTX_HARDIRQ, CTX_RAW_ATOMIC };
static const char *const kp_ctx_names[] = { "process", "atomic", "softirq", "hardirq", "raw_atomic" };

/* One parsed request. */
struct kp_req {
	char *keys[KP_MAX_KEYS];
	char *vals[KP_MAX_KEYS];
	int n;
	unsigned int seq;
};

/* One allocation: what was asked, where it ran, what came back. */
struct kp_job {
	enum kp_api api;
	enum kp_ctx ctx;
	size_t size;
	unsigned int order;
	gfp_t gfp;
	void *ptr;
	struct page *page;
	u64 alloc_ns;
	/* observed inside the context */
	bool in_hardirq, in_serving_softirq, in_atomic, irqs_disabled;
	unsigned int preempt_count;
	/* fail-nth armed for the allocation, and what was left of it after (0: injected) */
	unsigned int inject, fail_nth_left;
	struct completion done;
	struct hrtimer timer;
	struct tasklet_struct tasklet;
};

struct kp_held {
	struct list_head node;
	char name[KP_NAME_MAX + 1];
	enum kp_api api;
	size_t size;
	unsigned int order;
	void *ptr;
	struct page *page;
};

struct kp_file {
	char req[KP_REQ_MAX + 1];
	size_t req_len;
	bool req_overflow;
	bool req_nul;	/* a NUL byte would hide the rest of the line from the parser */
	char resp[KP_RESP_MAX];
	size_t resp_len, resp_off;
};

static DEFINE_MUTEX(kp_lock);		/* serialises requests, protects lists */
static DEFINE_SPINLOCK(kp_atomic_lock);	/* the "atomic" context */
static DEFINE_RAW_SPINLOCK(kp_raw_lock);	/* the "raw_atomic" context */
static LIST_HEAD(kp_held_list);
static struct page **kp_frag_pages;	/* pages kept by "fragment" */
static unsigned long kp_frag_count;
static struct dentry *kp_dir;

/* ---- response building ---- */

struct kp_out {
	char *buf;
	size_t len, cap;
};

static __printf(2, 3) void kp_put(struct kp_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	o->len = min(o->len + (size_t)n, o->cap - 1);
}

static int kp_error(struct kp_out *o, const char *err, const char *msg)
{
	o->len = 0;
	kp_put(o, "status=error errno=%s msg=%s", err, msg);
	return -EINVAL;
}

/* ---- request parsing: strict, never trusts the input ---- */

static bool kp_valid_char(char c)
{
	return isalnum(c) || c == '_' || c == '|' || c == '.' || c == '-' || c == '+';
}

static int kp_parse(char *line, struct kp_req *r, struct kp_out *o)
{
	char *tok, *eq, *p;
	int i;

	r->n = 0;
	while ((tok = strsep(&line, " ")) != NULL) {
		if (*tok == '\0')
			continue;
		if (r->n == KP_MAX_KEYS)
			return kp_error(o, "EINVAL", "too many keys");
		eq = strchr(tok, '=');
		if (!eq || eq == tok || eq[1] == '\0')
			return kp_error(o, "EINVAL", "expected key=value");
		*eq = '\0';
		for (p = tok; *p; p++)
			if (!(isalnum(*p) || *p == '_'))
				return kp_error(o, "EINVAL", "bad character in key");
		for (p = eq + 1; *p; p++)
			if (!kp_valid_char(*p))
				return kp_error(o, "EINVAL", "bad character in value");
		for (i = 0; i < r->n; i++)
			if (!strcmp(r->keys[i], tok))
				return kp_error(o, "EINVAL", "duplicate key");
		r->keys[r->n] = tok;
		r->vals[r->n] = eq + 1;
		r->n++;
	}
	if (r->n == 0)
		return kp_error(o, "EINVAL", "empty request");
	return 0;
}

static const char *kp_get(struct kp_req *r, const char *key)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->keys[i], key))
			return r->vals[i];
	return NULL;
}

/* Every key a command accepts must be listed: unknown keys are errors. */
static int kp_check_keys(struct kp_req *r, const char *const *allowed, struct kp_out *o)
{
	int i, j;

	for (i = 0; i < r->n; i++) {
		bool ok = !strcmp(r->keys[i], "cmd") || !strcmp(r->keys[i], "seq");

		for (j = 0; allowed[j] && !ok; j++)
			ok = !strcmp(r->keys[i], allowed[j]);
		if (!ok) {
			o->len = 0;
			kp_put(o, "status=error errno=EINVAL msg=unknown key %s", r->keys[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int kp_get_u64(struct kp_req *r, const char *key, u64 *v, bool required,
		      struct kp_out *o)
{
	const char *s = kp_get(r, key);

	if (!s) {
		if (!required)
			return 0;
		o->len = 0;
		kp_put(o, "status=error errno=EINVAL msg=missing key %s", key);
		return -EINVAL;
	}
	if (kstrtou64(s, 0, v)) {
		o->len = 0;
		kp_put(o, "status=error errno=EINVAL msg=bad number for %s", key);
		return -EINVAL;
	}
	return 0;
}

static int kp_lookup(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static int kp_parse_gfp(const char *s, gfp_t *gfp, struct kp_out *o)
{
	char buf[KP_REQ_MAX];
	char *p = buf, *name;
	size_t i;

	strscpy(buf, s, sizeof(buf));
	*gfp = 0;
	while ((name = strsep(&p, "|")) != NULL) {
		bool found = false;

		for (i = 0; i < ARRAY_SIZE(kp_gfp_names); i++) {
			if (!strcmp(kp_gfp_names[i].name, name)) {
				*gfp |= kp_gfp_names[i].flags;
				found = true;
				break;
			}
		}
		if (!found) {
			o->len = 0;
			kp_put(o, "status=error errno=EINVAL msg=unknown gfp flag %s", name);
			return -EINVAL;
		}
	}
	return 0;
}

static bool kp_valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= KP_NAME_MAX;
}

/* ---- allocation in a context ---- */

static void kp_do_alloc(struct kp_job *j)
{
	u64 t0;

	j->in_hardirq = in_hardirq();
	j->in_serving_softirq = in_serving_softirq();
	j->in_atomic = in_atomic();
	j->irqs_disabled = irqs_disabled();
	j->preempt_count = preempt_count();

	t0 = ktime_get_ns();
#ifdef CONFIG_FAULT_INJECTION
	/* Only in task context (kp_cmd_alloc refuses the others): should_fail() reads fail_nth only in_task(). */
	if (j->inject)
		WRITE_ONCE(current->fail_nth, j->inject);
#endif
	switch (j->api) {
	case API_KMALLOC:
		j->ptr = kmalloc(j->size, j->gfp);
		break;
	case API_KZALLOC:
		j->ptr = kzalloc(j->size, j->gfp);
		break;
	case API_KCALLOC:
		j->ptr = kcalloc(1, j->size, j->gfp);
		break;
	case API_VMALLOC:
		/* vmalloc takes no gfp: GFP_KERNEL inside, might sleep. */
		j->ptr = vmalloc(j->size);
		break;
	case API_VZALLOC:
		j->ptr = vzalloc(j->size);
		break;
	case API_KVMALLOC:
		j->ptr = kvmalloc(j->size, j->gfp);
		break;
	case API_PAGES:
		j->page = alloc_pages(j->gfp, j->order);
		j->ptr = j->page ? page_address(j->page) : NULL;
		break;
	case API_VMALLOC_GFP:
		j->ptr = __vmalloc(j->size, j->gfp);
		break;
	case API_KMALLOC_NOLOCK:
#if KP_HAS_KMALLOC_NOLOCK
		j->ptr = kmalloc_nolock(j->size, j->gfp, NUMA_NO_NODE);
#endif
		break;
	}
#ifdef CONFIG_FAULT_INJECTION
	if (j->inject) {
		j->fail_nth_left = READ_ONCE(current->fail_nth);
		WRITE_ONCE(current->fail_nth, 0);
	}
#endif
	j->alloc_ns = ktime_get_ns() - t0;
}

static enum hrtimer_restart kp_hrtimer_fn(struct hrtimer *t)
{
	struct kp_job *j = container_of(t, struct kp_job, timer);

	kp_do_alloc(j);
	complete(&j->done);
	return HRTIMER_NORESTART;
}

static void kp_tasklet_fn(struct tasklet_struct *t)
{
	struct kp_job *j = from_tasklet(j, t, tasklet);

	kp_do_alloc(j);
	complete(&j->done);
}

static void kp_run_in_context(struct kp_job *j)
{
	unsigned long flags;

	switch (j->ctx) {
	case CTX_PROCESS:
		kp_do_alloc(j);
		break;
	case CTX_ATOMIC:
		spin_lock_irqsave(&kp_atomic_lock, flags);
		kp_do_alloc(j);
		spin_unlock_irqrestore(&kp_atomic_lock, flags);
		break;
	case CTX_RAW_ATOMIC:
		raw_spin_lock_irqsave(&kp_raw_lock, flags);
		kp_do_alloc(j);
		raw_spin_unlock_irqrestore(&kp_raw_lock, flags);
		break;
	case CTX_SOFTIRQ:
		init_completion(&j->done);
		tasklet_setup(&j->tasklet, kp_tasklet_fn);
		tasklet_schedule(&j->tasklet);
		wait_for_completion(&j->done);
		tasklet_kill(&j->tasklet);
		break;
	case CTX_HARDIRQ:
		/*
		 * A hard-mode hrtimer runs its callback in hard IRQ context even on
		 * PREEMPT_RT. smp_call_function_single on the local CPU would not:
		 * it runs with IRQs off but not in_hardirq().
		 */
		init_completion(&j->done);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
		hrtimer_setup(&j->timer, kp_hrtimer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
#else
		hrtimer_init(&j->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
		j->timer.function = kp_hrtimer_fn;
#endif
		hrtimer_start(&j->timer, ns_to_ktime(10000), HRTIMER_MODE_REL_HARD);
		wait_for_completion(&j->done);
		hrtimer_cancel(&j->timer);
		break;
	}
}

/* ---- facts about an allocation ---- */

static unsigned long kp_pfn_of(void *addr, bool vm)
{
	return vm ? vmalloc_to_pfn(addr) : page_to_pfn(virt_to_page(addr));
}

static bool kp_range_mapped(void *ptr, size_t size, bool vm)
{
	unsigned long addr, end = (unsigned long)ptr + size;

	if (!vm)
		return true;	/* the linear map is contiguous by construction */
	for (addr = (unsigned long)ptr & PAGE_MASK; addr < end; addr += PAGE_SIZE)
		if (!vmalloc_to_page((void *)addr))
			return false;
	return true;
}

static void kp_report_memory(struct kp_out *o, void *ptr, size_t size)
{
	bool vm = is_vmalloc_addr(ptr);
	unsigned long start = (unsigned long)ptr & PAGE_MASK;
	unsigned long end = (unsigned long)ptr + size;	/* exclusive */
	unsigned long addr, pfn, prev = 0, first = 0, pages = 0, runs = 0;
	struct page *page;

	for (addr = start; addr < end; addr += PAGE_SIZE) {
		pfn = kp_pfn_of((void *)addr, vm);
		if (pages == 0)
			first = pfn;
		if (pages == 0 || pfn != prev + 1)
			runs++;
		prev = pfn;
		pages++;
		cond_resched();
	}
	page = vm ? vmalloc_to_page(ptr) : virt_to_page(ptr);
	/*
	 * Every page of the range resolved to a frame above: the virtual range
	 * is contiguous and fully mapped (vmalloc_to_pfn returns 0 for a hole).
	 */
	kp_put(o, " vmalloc_addr=%d linear_map=%d pages=%lu phys_runs=%lu first_pfn=0x%lx last_pfn=0x%lx",
	       vm, virt_addr_valid(ptr), pages, runs, first, prev);
	kp_put(o, " virt_contiguous=%d", kp_range_mapped(ptr, size, vm));
	kp_put(o, " zone=%s", page_zone(page)->name);
	/* kmalloc beyond the slab caches is one compound buddy block. */
	kp_put(o, " compound_order=%d", vm ? -1 : (int)compound_order(compound_head(page)));
	kp_put(o, " zeroed=%d", memchr_inv(ptr, 0, size) == NULL);
}

static void kp_free(enum kp_api api, void *ptr, struct page *page, unsigned int order)
{
	switch (api) {
	case API_KMALLOC:
	case API_KZALLOC:
	case API_KCALLOC:
		kfree(ptr);
		break;
	case API_VMALLOC:
	case API_VZALLOC:
	case API_VMALLOC_GFP:
		vfree(ptr);
		break;
	case API_KVMALLOC:
		kvfree(ptr);
		break;
	case API_PAGES:
		__free_pages(page, order);
		break;
	case API_KMALLOC_NOLOCK:
#if KP_HAS_KMALLOC_NOLOCK
		kfree_nolock(ptr);
#endif
		break;
	}
}

static struct kp_held *kp_find_held(const char *name)
{
	struct kp_held *h;

	list_for_each_entry(h, &kp_held_list, node)
		if (!strcmp(h->name, name))
			return h;
	return NULL;
}

/* The held allocation a request names (key "name"); NULL after an error response. */
static struct kp_held *kp_held_arg(struct kp_req *r, struct kp_out *o)
{
	const char *name = kp_get(r, "name");
	struct kp_held *h;

	if (!name) {
		kp_error(o, "EINVAL", "missing key name");
		return NULL;
	}
	h = kp_find_held(name);
	if (!h)
		kp_error(o, "ENOENT", "no allocation held under that name");
	return h;
}

/* Shared by alloc and time: api, size/order, gfp. */
static int kp_parse_alloc_args(struct kp_req *r, struct kp_job *j, struct kp_out *o)
{
	const char *s;
	u64 v = 0;
	int idx;

	s = kp_get(r, "api");
	if (!s)
		return kp_error(o, "EINVAL", "missing key api");
	idx = kp_lookup(kp_api_names, ARRAY_SIZE(kp_api_names), s);
	if (idx < 0)
		return kp_error(o, "EINVAL", "unknown api");
	j->api = idx;

	if (j->api == API_PAGES) {
		if (kp_get(r, "size"))
			return kp_error(o, "EINVAL", "api=pages takes order, not size");
		if (kp_get_u64(r, "order", &v, true, o))
			return -EINVAL;
		if (v > 31)
			return kp_error(o, "EINVAL", "order out of range");
		j->order = v;
		j->size = PAGE_SIZE << j->order;
	} else {
		if (kp_get(r, "order"))
			return kp_error(o, "EINVAL", "order is only for api=pages");
		if (kp_get_u64(r, "size", &v, true, o))
			return -EINVAL;
		if (v > (u64)INT_MAX * 16)
			return kp_error(o, "EINVAL", "size out of range");
		j->size = v;
	}

	s = kp_get(r, "gfp");
	j->gfp = j->api == API_KMALLOC_NOLOCK ? 0 : GFP_KERNEL;
	if (s && kp_parse_gfp(s, &j->gfp, o))
		return -EINVAL;
	if (s && (j->api == API_VMALLOC || j->api == API_VZALLOC))
		return kp_error(o, "EINVAL", "vmalloc and vzalloc take no gfp flags");
	if (j->api == API_KMALLOC_NOLOCK) {
		if (!KP_HAS_KMALLOC_NOLOCK)
			return kp_error(o, "EOPNOTSUPP", "kmalloc_nolock needs kernel 7.2 or later");
		if (j->gfp & ~(__GFP_ZERO | __GFP_ACCOUNT))
			return kp_error(o, "EINVAL", "kmalloc_nolock takes only __GFP_ZERO and __GFP_ACCOUNT");
	}

	j->ctx = CTX_PROCESS;
	s = kp_get(r, "ctx");
	if (s) {
		idx = kp_lookup(kp_ctx_names, ARRAY_SIZE(kp_ctx_names), s);
		if (idx < 0)
			return kp_error(o, "EINVAL", "unknown ctx");
		j->ctx = idx;
	}
	return 0;
}

static int kp_cmd_alloc(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { "api", "size", "order", "gfp", "ctx", "hold", "fill", "inject", NULL };
	struct kp_job *j;
	u64 fill = 0, inject = 0;
	bool do_fill;
	struct kp_held *h = NULL;
	const char *hold;
	u64 t0, free_ns;
	int ret;

	if (kp_check_keys(r, keys, o) || kp_get_u64(r, "fill", &fill, false, o) ||
	    kp_get_u64(r, "inject", &inject, false, o))
		return -EINVAL;
	if (kp_get(r, "inject") && (inject < 1 || inject > UINT_MAX))
		return kp_error(o, "EINVAL", "inject is an allocation index from 1");
#ifndef CONFIG_FAULT_INJECTION
	if (inject)
		return kp_error(o, "EOPNOTSUPP", "this kernel has no fault injection (CONFIG_FAULT_INJECTION)");
#endif
	do_fill = kp_get(r, "fill") != NULL;
	if (fill > 0xff)
		return kp_error(o, "EINVAL", "fill is one byte");
	hold = kp_get(r, "hold");
	if (hold && !kp_valid_name(hold))
		return kp_error(o, "EINVAL", "bad hold name");
	if (hold && kp_find_held(hold))
		return kp_error(o, "EEXIST", "an allocation with that name is held");

	/* The job holds an hrtimer and a completion: keep it off the stack. */
	j = kzalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return kp_error(o, "ENOMEM", "no memory for the job");
	ret = kp_parse_alloc_args(r, j, o);
	if (ret)
		goto out;
	if (inject && (j->ctx == CTX_SOFTIRQ || j->ctx == CTX_HARDIRQ)) {
		ret = kp_error(o, "EINVAL", "inject needs task context: fail-nth is not read in softirq or hardirq");
		goto out;
	}
	j->inject = inject;
	/* A leak that starves the guest gets the OOM killer to take sshd: refuse it instead. */
	if (hold && (j->size >> PAGE_SHIFT) + ((unsigned long)KP_HOLD_RESERVE_MB << (20 - PAGE_SHIFT)) >
		    (unsigned long)si_mem_available()) {
		ret = kp_error(o, "ENOMEM", "hold refused: it would leave less than "
			       __stringify(KP_HOLD_RESERVE_MB) " MiB of memory available");
		goto out;
	}
	if (hold) {
		h = kzalloc(sizeof(*h), GFP_KERNEL);
		if (!h) {
			ret = kp_error(o, "ENOMEM", "no memory for the hold record");
			goto out;
		}
	}

	kp_run_in_context(j);

	kp_put(o, "status=ok api=%s size=%zu order=%u gfp=0x%x ctx=%s success=%d",
	       kp_api_names[j->api], j->size, j->order, (unsigned int)j->gfp,
	       kp_ctx_names[j->ctx], j->ptr != NULL);
	kp_put(o, " in_hardirq=%d in_serving_softirq=%d in_atomic=%d irqs_disabled=%d preempt_count=0x%x",
	       j->in_hardirq, j->in_serving_softirq, j->in_atomic, j->irqs_disabled,
	       j->preempt_count);
	kp_put(o, " alloc_ns=%llu", j->alloc_ns);
	if (j->inject)
		kp_put(o, " inject=%u fail_nth_left=%u", j->inject, j->fail_nth_left);
	if (ZERO_OR_NULL_PTR(j->ptr)) {
		/* kmalloc(0) returns ZERO_SIZE_PTR: success, but nothing to inspect. */
		kp_put(o, " zero_size_ptr=%d", j->ptr != NULL);
		kfree(h);
		goto out;
	}
	kp_report_memory(o, j->ptr, j->size);
	/* Dirty the memory before it goes back, so the next allocation shows whether it was cleared. */
	if (do_fill)
		memset(j->ptr, (int)fill, j->size);
	if (h) {
		strscpy(h->name, hold, sizeof(h->name));
		h->api = j->api;
		h->size = j->size;
		h->order = j->order;
		h->ptr = j->ptr;
		h->page = j->page;
		list_add_tail(&h->node, &kp_held_list);
		kp_put(o, " held=%s", h->name);
	} else {
		t0 = ktime_get_ns();
		kp_free(j->api, j->ptr, j->page, j->order);
		free_ns = ktime_get_ns() - t0;
		kp_put(o, " free_ns=%llu", free_ns);
	}
out:
	kfree(j);
	return ret;
}

static int kp_cmd_inspect(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { "name", NULL };
	struct kp_held *h;

	if (kp_check_keys(r, keys, o))
		return -EINVAL;
	h = kp_held_arg(r, o);
	if (!h)
		return -EINVAL;
	kp_put(o, "status=ok name=%s api=%s size=%zu", h->name, kp_api_names[h->api], h->size);
	kp_report_memory(o, h->ptr, h->size);
	return 0;
}

/*
 * scan: memchr_inv(), the scan behind SLUB's poison and redzone checks, over a
 * held allocation. Everything before `mark` is zeroed and the byte at `mark`
 * set, then memchr_inv(ptr, 0, len) reports the first non-zero byte. The mark
 * lies inside the allocation, so a correct scan stops there whatever `len`
 * says, and a scan that miscounts stops at the mark or sooner. memchr_inv
 * reads whole 8-byte words, so the mark's word must lie inside the
 * allocation too: then no byte past it is read. (Kernels before 6.1.190
 * and 6.12.111 kept memchr_inv's word count in 32 bits: a scan of more than
 * 32 GiB missed the mark.)
 */
static int kp_cmd_scan(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { "name", "len", "mark", NULL };
	struct kp_held *h;
	u64 len = 0, mark = 0;
	u8 *p, *hit;

	if (kp_check_keys(r, keys, o) || kp_get_u64(r, "len", &len, true, o) ||
	    kp_get_u64(r, "mark", &mark, true, o))
		return -EINVAL;
	h = kp_held_arg(r, o);
	if (!h)
		return -EINVAL;
	if (!h->ptr)
		return kp_error(o, "EINVAL", "the allocation has no kernel address");
	/* memchr_inv reads whole 8-byte words past 16 bytes: the mark's word must be inside too. */
	if (mark >= h->size || ALIGN(mark + 1, 8) > h->size)
		return kp_error(o, "EINVAL", "mark must lie inside the allocation, with the rest of its 8-byte word");
	if (len <= mark)
		return kp_error(o, "EINVAL", "len must reach past the mark");
	p = h->ptr;
	memset(p, 0, mark);
	p[mark] = 0xa5;
	hit = memchr_inv(p, 0, len);
	kp_put(o, "status=ok name=%s scan_len=%llu scan_first=%lld", h->name, len,
	       hit ? (long long)(hit - p) : -1LL);
	return 0;
}

/* pause: sleep in process context, so a report the kernel rate-limits to one a second can fire again. */
static int kp_cmd_pause(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { "ms", NULL };
	u64 ms = 0;

	if (kp_check_keys(r, keys, o) || kp_get_u64(r, "ms", &ms, true, o))
		return -EINVAL;
	if (ms == 0 || ms > 10000)
		return kp_error(o, "EINVAL", "ms out of range (1..10000)");
	msleep(ms);
	kp_put(o, "status=ok paused_ms=%llu", ms);
	return 0;
}

static int kp_cmd_free(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { "name", NULL };
	struct kp_held *h;
	u64 t0;

	if (kp_check_keys(r, keys, o))
		return -EINVAL;
	h = kp_held_arg(r, o);
	if (!h)
		return -EINVAL;
	t0 = ktime_get_ns();
	kp_free(h->api, h->ptr, h->page, h->order);
	kp_put(o, "status=ok name=%s free_ns=%llu", h->name, ktime_get_ns() - t0);
	list_del(&h->node);
	kfree(h);
	return 0;
}

static void kp_free_all(void)
{
	struct kp_held *h, *tmp;

	list_for_each_entry_safe(h, tmp, &kp_held_list, node) {
		kp_free(h->api, h->ptr, h->page, h->order);
		list_del(&h->node);
		kfree(h);
	}
}

static void kp_unfragment(void)
{
	unsigned long i;

	for (i = 0; i < kp_frag_count; i++)
		__free_page(kp_frag_pages[i]);
	kvfree(kp_frag_pages);
	kp_frag_pages = NULL;
	kp_frag_count = 0;
}

/*
 * Take up to `pages` order-0 pages, then give back every other one: the
 * free lists fill with isolated single pages, so a large vmalloc that
 * follows is served from scattered frames.
 */
static int kp_cmd_fragment(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { "pages", NULL };
	struct page **all;
	unsigned long i, got = 0, kept = 0;
	u64 want = 0;

	if (kp_check_keys(r, keys, o) || kp_get_u64(r, "pages", &want, true, o))
		return -EINVAL;
	if (want == 0 || want > totalram_pages())
		return kp_error(o, "EINVAL", "pages out of range");
	if (kp_frag_pages)
		return kp_error(o, "EBUSY", "already fragmented: unfragment first");
	all = kvmalloc_array(want, sizeof(*all), GFP_KERNEL);
	if (!all)
		return kp_error(o, "ENOMEM", "no memory for the page array");
	for (got = 0; got < want; got++) {
		all[got] = alloc_page(GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY);
		if (!all[got])
			break;
		cond_resched();
	}
	for (i = 0; i < got; i++) {
		if (i % 2)
			__free_page(all[i]);
		else
			all[kept++] = all[i];
	}
	kp_frag_pages = all;
	kp_frag_count = kept;
	kp_put(o, "status=ok taken=%lu kept=%lu", got, kept);
	return 0;
}

static int kp_cmd_unfragment(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { NULL };
	unsigned long n = kp_frag_count;

	if (kp_check_keys(r, keys, o))
		return -EINVAL;
	kp_unfragment();
	kp_put(o, "status=ok released=%lu", n);
	return 0;
}

static int kp_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

struct kp_timing {
	u64 *a_ns, *f_ns;
	unsigned long fails;
};

static void kp_time_once(struct kp_job *j, struct kp_timing *t, u64 i)
{
	u64 t0;

	kp_do_alloc(j);
	t->a_ns[i] = j->alloc_ns;
	t->f_ns[i] = 0;
	if (!j->ptr) {
		t->fails++;
		return;
	}
	t0 = ktime_get_ns();
	kp_free(j->api, j->ptr, j->page, j->order);
	t->f_ns[i] = ktime_get_ns() - t0;
}

static void kp_put_timing(struct kp_out *o, const char *prefix, struct kp_timing *t, u64 n)
{
	sort(t->a_ns, n, sizeof(u64), kp_cmp_u64, NULL);
	sort(t->f_ns, n, sizeof(u64), kp_cmp_u64, NULL);
	kp_put(o, " %sfailures=%lu %salloc_ns_min=%llu %salloc_ns_median=%llu %sfree_ns_min=%llu %sfree_ns_median=%llu",
	       prefix, t->fails, prefix, t->a_ns[0], prefix, t->a_ns[n / 2], prefix, t->f_ns[0],
	       prefix, t->f_ns[n / 2]);
}

/*
 * Repeat alloc+free N times in process context; report min and median.
 * With vs=API the second API is timed in the same loop, interleaved, so the
 * two numbers share the same machine state and can be compared directly.
 */
static int kp_cmd_time(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { "api", "size", "order", "gfp", "repeat", "vs", NULL };
	struct kp_job *j = NULL, *k = NULL;
	struct kp_timing a = { 0 }, b = { 0 };
	u64 repeat = 100, i;
	const char *vs;
	int ret, idx;

	if (kp_check_keys(r, keys, o) || kp_get_u64(r, "repeat", &repeat, false, o))
		return -EINVAL;
	if (repeat == 0 || repeat > KP_TIME_MAX_REPEAT)
		return kp_error(o, "EINVAL", "repeat out of range");
	vs = kp_get(r, "vs");
	j = kzalloc(sizeof(*j), GFP_KERNEL);
	k = kzalloc(sizeof(*k), GFP_KERNEL);
	a.a_ns = kvmalloc_array(repeat, sizeof(u64), GFP_KERNEL);
	a.f_ns = kvmalloc_array(repeat, sizeof(u64), GFP_KERNEL);
	b.a_ns = kvmalloc_array(repeat, sizeof(u64), GFP_KERNEL);
	b.f_ns = kvmalloc_array(repeat, sizeof(u64), GFP_KERNEL);
	if (!j || !k || !a.a_ns || !a.f_ns || !b.a_ns || !b.f_ns) {
		ret = kp_error(o, "ENOMEM", "no memory for timing");
		goto out;
	}
	ret = kp_parse_alloc_args(r, j, o);
	if (ret)
		goto out;
	if (vs) {
		idx = kp_lookup(kp_api_names, ARRAY_SIZE(kp_api_names), vs);
		if (idx < 0 || idx == API_PAGES || (idx == API_KMALLOC_NOLOCK && !KP_HAS_KMALLOC_NOLOCK)) {
			ret = kp_error(o, "EINVAL", "unknown vs api");
			goto out;
		}
		*k = *j;
		k->api = idx;
		/* vmalloc ignores gfp; the rest use the same flags as api. */
	}
	for (i = 0; i < repeat; i++) {
		kp_time_once(j, &a, i);
		if (vs)
			kp_time_once(k, &b, i);
		cond_resched();
	}
	kp_put(o, "status=ok api=%s size=%zu repeat=%llu", kp_api_names[j->api], j->size, repeat);
	kp_put_timing(o, "", &a, repeat);
	if (vs) {
		kp_put(o, " vs=%s", kp_api_names[k->api]);
		kp_put_timing(o, "vs_", &b, repeat);
	}
out:
	kvfree(a.a_ns);
	kvfree(a.f_ns);
	kvfree(b.a_ns);
	kvfree(b.f_ns);
	kfree(j);
	kfree(k);
	return ret;
}

static int kp_cmd_constants(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { NULL };

	if (kp_check_keys(r, keys, o))
		return -EINVAL;
	kp_put(o, "status=ok release=%s machine=%s", utsname()->release, utsname()->machine);
	kp_put(o, " PAGE_SIZE=%lu PAGE_SHIFT=%d", PAGE_SIZE, PAGE_SHIFT);
	kp_put(o, " KMALLOC_MIN_SIZE=%d KMALLOC_MAX_CACHE_SIZE=%lu KMALLOC_MAX_SIZE=%lu",
	       KMALLOC_MIN_SIZE, (unsigned long)KMALLOC_MAX_CACHE_SIZE,
	       (unsigned long)KMALLOC_MAX_SIZE);
	kp_put(o, " MAX_ORDER=%d TOTALRAM_PAGES=%lu", KP_MAX_ORDER, totalram_pages());
	kp_put(o, " INIT_ON_ALLOC=%d INIT_ON_FREE=%d PREEMPT_RT=%d PREEMPT_COUNT=%d",
	       want_init_on_alloc(0), want_init_on_free(), IS_ENABLED(CONFIG_PREEMPT_RT),
	       IS_ENABLED(CONFIG_PREEMPT_COUNT));
	kp_put(o, " GFP_KERNEL=0x%x GFP_ATOMIC=0x%x GFP_NOWAIT=0x%x",
	       (unsigned int)GFP_KERNEL, (unsigned int)GFP_ATOMIC, (unsigned int)GFP_NOWAIT);
	return 0;
}

static int kp_cmd_gfp_names(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { NULL };
	size_t i;

	if (kp_check_keys(r, keys, o))
		return -EINVAL;
	kp_put(o, "status=ok names=");
	for (i = 0; i < ARRAY_SIZE(kp_gfp_names); i++)
		kp_put(o, "%s%s", i ? "|" : "", kp_gfp_names[i].name);
	return 0;
}

/*
 * The zones this kernel has, with their physical extent: the evidence for
 * what GFP_DMA means here and for the article's 32-bit zone layout.
 */
static int kp_cmd_zones(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { NULL };
	char names[128];
	int nid, i, n = 0;

	if (kp_check_keys(r, keys, o))
		return -EINVAL;
	kp_put(o, "status=ok");
	for_each_online_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);

		for (i = 0; i < MAX_NR_ZONES; i++) {
			struct zone *z = &pgdat->node_zones[i];

			if (!populated_zone(z))
				continue;
			n += scnprintf(names + n, sizeof(names) - n, "%s%s", n ? "|" : "", z->name);
			/* Byte addresses: scenarios compare them with sizes like 16MiB. */
			kp_put(o, " %s_start=%llu %s_end=%llu", z->name,
			       (unsigned long long)z->zone_start_pfn << PAGE_SHIFT, z->name,
			       (unsigned long long)zone_end_pfn(z) << PAGE_SHIFT);
		}
	}
	kp_put(o, " zone_names=%s", n ? names : "none");
	kp_put(o, " highmem=%d", IS_ENABLED(CONFIG_HIGHMEM));
	return 0;
}

/* Where this module's own code lives: the article says modules sit in vmalloc memory. */
static int kp_cmd_self(struct kp_req *r, struct kp_out *o)
{
	static const char *const keys[] = { NULL };
	void *text = (void *)kp_cmd_self;

	if (kp_check_keys(r, keys, o))
		return -EINVAL;
	kp_put(o, "status=ok vmalloc_addr=%d linear_map=%d page_mapped=%d",
	       is_vmalloc_addr(text), virt_addr_valid(text), vmalloc_to_page(text) != NULL);
	return 0;
}

struct kp_cmd {
	const char *name;
	int (*fn)(struct kp_req *r, struct kp_out *o);
};

static const struct kp_cmd kp_cmds[] = {
	{ "constants", kp_cmd_constants },
	{ "gfp_names", kp_cmd_gfp_names },
	{ "alloc", kp_cmd_alloc },
	{ "inspect", kp_cmd_inspect },
	{ "free", kp_cmd_free },
	{ "fragment", kp_cmd_fragment },
	{ "unfragment", kp_cmd_unfragment },
	{ "time", kp_cmd_time },
	{ "zones", kp_cmd_zones },
	{ "self", kp_cmd_self },
	{ "scan", kp_cmd_scan },
	{ "pause", kp_cmd_pause },
};

static void kp_handle_line(char *line, struct kp_out *o)
{
	struct kp_req r = { 0 };
	const char *cmd, *seq;
	unsigned int s = 0;
	size_t i;

	if (kp_parse(line, &r, o))
		return;
	seq = kp_get(&r, "seq");
	if (seq && kstrtouint(seq, 10, &s)) {
		kp_error(o, "EINVAL", "bad number for seq");
		return;
	}
	cmd = kp_get(&r, "cmd");
	if (!cmd) {
		kp_error(o, "EINVAL", "missing key cmd");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(kp_cmds); i++) {
		if (!strcmp(kp_cmds[i].name, cmd)) {
			pr_info("kalloc_probe: begin seq=%u cmd=%s\n", s, cmd);
			kp_cmds[i].fn(&r, o);
			pr_info("kalloc_probe: end seq=%u\n", s);
			return;
		}
	}
	kp_error(o, "EINVAL", "unknown cmd");
}

/* ---- the control file ---- */

static int kp_open(struct inode *inode, struct file *file)
{
	struct kp_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	file->private_data = f;
	return nonseekable_open(inode, file);
}

static int kp_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static void kp_process(struct kp_file *f)
{
	struct kp_out o = { .buf = f->resp, .cap = sizeof(f->resp) - 1 };

	f->req[f->req_len] = '\0';
	mutex_lock(&kp_lock);
	if (f->req_overflow)
		kp_error(&o, "E2BIG", "request longer than 512 bytes");
	else if (f->req_nul)
		kp_error(&o, "EINVAL", "request contains a NUL byte");
	else
		kp_handle_line(f->req, &o);
	mutex_unlock(&kp_lock);
	f->resp[o.len++] = '\n';
	f->resp_len = o.len;
	f->resp_off = 0;
	f->req_len = 0;
	f->req_overflow = false;
	f->req_nul = false;
}

static ssize_t kp_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	struct kp_file *f = file->private_data;
	size_t i;
	char c;

	/* Requests end at '\n' and may arrive in pieces. */
	for (i = 0; i < count; i++) {
		if (get_user(c, ubuf + i))
			return -EFAULT;
		if (c == '\n') {
			kp_process(f);
		} else if (c == '\0') {
			f->req_nul = true;
		} else if (f->req_len < KP_REQ_MAX) {
			f->req[f->req_len++] = c;
		} else {
			f->req_overflow = true;
		}
	}
	return count;
}

static ssize_t kp_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	struct kp_file *f = file->private_data;
	size_t n = min(count, f->resp_len - f->resp_off);

	if (n && copy_to_user(ubuf, f->resp + f->resp_off, n))
		return -EFAULT;
	f->resp_off += n;
	return n;
}

static const struct file_operations kp_fops = {
	.owner = THIS_MODULE,
	.open = kp_open,
	.release = kp_release,
	.read = kp_read,
	.write = kp_write,
};

static int __init kp_init(void)
{
	kp_dir = debugfs_create_dir("kalloc_probe", NULL);
	if (IS_ERR_OR_NULL(kp_dir))
		return kp_dir ? PTR_ERR(kp_dir) : -ENODEV;
	debugfs_create_file("ctl", 0600, kp_dir, NULL, &kp_fops);
	pr_info("kalloc_probe: loaded\n");
	return 0;
}

static void __exit kp_exit(void)
{
	debugfs_remove(kp_dir);
	mutex_lock(&kp_lock);
	kp_free_all();
	kp_unfragment();
	mutex_unlock(&kp_lock);
	pr_info("kalloc_probe: unloaded\n");
}

module_init(kp_init);
module_exit(kp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kharness allocator probe: runs allocations on command and reports facts");
