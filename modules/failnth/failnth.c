// SPDX-License-Identifier: MIT
/*
 * failnth - load a kernel module with its Nth allocation failed, from the
 * task that loads it and no other (the kernel's per-task fail-nth).
 *
 *   failnth N MODULE.ko [PARAMS]
 *
 * prints one line, "kharness-failnth rc=R fail_nth_left=L": R is what
 * finit_module() returned (0, or -errno: what the module's init returned
 * when the load got that far), L the task's fail-nth read back after it
 * (0: the Nth allocation was failed; otherwise N less the allocations the
 * load made).
 *
 * Freestanding (-nostdlib -static, raw system calls), because every
 * allocation the task makes after arming counts: the module file and the
 * fail-nth file are opened first, fail-nth is written, and the very next
 * system call is finit_module(); reading fail-nth back through the already
 * open file allocates nothing. A libc startup, a dynamic loader or a shell
 * between the write and the load would take some of the N.
 */

#if defined(__x86_64__)
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_pread64 17
#define NR_openat 257
#define NR_finit_module 313
#define NR_exit_group 231
static long sys(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}
__asm__(".globl _start\n_start:\n\txor %rbp, %rbp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall cmain\n\thlt\n");
#elif defined(__aarch64__)
#define NR_read 63
#define NR_write 64
#define NR_close 57
#define NR_pread64 67
#define NR_openat 56
#define NR_finit_module 273
#define NR_exit_group 94
static long sys(long n, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;

	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}
__asm__(".globl _start\n_start:\n\tmov x0, sp\n\tbl cmain\n");
#else
#error "failnth: no system calls for this arch"
#endif

#define AT_FDCWD -100
#define O_RDONLY 0
#define O_RDWR 2

static unsigned long len(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

static void out(const char *s)
{
	sys(NR_write, 1, (long)s, (long)len(s), 0);
}

/* Decimal text of v (negative too) into buf, which holds 24 bytes. */
static char *num(long v, char *buf)
{
	char *p = buf + 23;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	*p = 0;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return p;
}

static long parse(const char *s)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static void die(const char *why)
{
	out("kharness-failnth error=");
	out(why);
	out("\n");
	sys(NR_exit_group, 2, 0, 0, 0);
}

void cmain(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char nb[24], buf[24];
	long nth, ko, ctl, rc, n, left;
	char *s;

	if (argc < 3 || argc > 4)
		die("usage: failnth N MODULE.ko [PARAMS]");
	nth = parse(argv[1]);
	if (nth < 1)
		die("N is an allocation index from 1");
	ko = sys(NR_openat, AT_FDCWD, (long)argv[2], O_RDONLY, 0);
	if (ko < 0)
		die("cannot open the module file");
	ctl = sys(NR_openat, AT_FDCWD, (long)"/proc/thread-self/fail-nth", O_RDWR, 0);
	if (ctl < 0)
		die("no /proc/thread-self/fail-nth: the kernel has no CONFIG_FAULT_INJECTION");
	s = num(nth, nb);
	if (sys(NR_write, ctl, (long)s, (long)len(s), 0) < 0)
		die("cannot write fail-nth");
	rc = sys(NR_finit_module, ko, (long)(argc == 4 ? argv[3] : ""), 0, 0);
	n = sys(NR_pread64, ctl, (long)buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		die("cannot read fail-nth back");
	buf[n] = 0;
	if (buf[n - 1] == '\n')
		buf[n - 1] = 0;
	left = parse(buf);
	/* Disarm: an unconsumed count must not reach exit's own allocations. */
	sys(NR_write, ctl, (long)"0", 1, 0);
	out("kharness-failnth rc=");
	out(num(rc, nb));
	out(" fail_nth_left=");
	out(num(left, nb));
	out("\n");
	sys(NR_exit_group, 0, 0, 0, 0);
}
