// SPDX-License-Identifier: MIT
/*
 * failnth - make one operation with its Nth allocation failed, from the task
 * that makes it and no other (the kernel's per-task fail-nth).
 *
 *   failnth N MODULE.ko [PARAMS]    load a module (finit_module)
 *   failnth N --write PATH DATA     one write(2) of DATA to PATH
 *   failnth N --read PATH           one read(2) of up to 4096 bytes from PATH
 *
 * prints one line, "kharness-failnth rc=R fail_nth_left=L": R is what the
 * system call returned (for a load 0, or -errno: what the module's init
 * returned when the load got that far; for a write or read the bytes, or
 * -errno), L the task's fail-nth read back after it (0: the Nth allocation
 * was failed; otherwise N less the allocations the operation made).
 *
 * Freestanding (-nostdlib -static, raw system calls), because every
 * allocation the task makes after arming counts: the file the operation
 * works on and the fail-nth file are opened first, fail-nth is written, and
 * the very next system call is the operation; reading fail-nth back through
 * the already open file allocates nothing. A libc startup, a dynamic loader
 * or a shell between the write and the operation would take some of the N.
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
#define O_WRONLY 1
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

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

enum op { LOAD, WRITE, READ };

void cmain(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	static char data[4096];
	char nb[24], buf[24];
	long nth, fd, ctl, rc, n, left;
	enum op op;
	char *s;

	if (argc >= 4 && same(argv[2], "--write"))
		op = WRITE;
	else if (argc >= 3 && same(argv[2], "--read"))
		op = READ;
	else
		op = LOAD;
	if ((op == LOAD && (argc < 3 || argc > 4)) || (op == WRITE && argc != 5) || (op == READ && argc != 4))
		die("usage: failnth N MODULE.ko [PARAMS] | N --write PATH DATA | N --read PATH");
	nth = parse(argv[1]);
	if (nth < 1)
		die("N is an allocation index from 1");
	fd = sys(NR_openat, AT_FDCWD, (long)(op == LOAD ? argv[2] : argv[3]), op == WRITE ? O_WRONLY : O_RDONLY, 0);
	if (fd < 0)
		die(op == LOAD ? "cannot open the module file" : "cannot open the file");
	ctl = sys(NR_openat, AT_FDCWD, (long)"/proc/thread-self/fail-nth", O_RDWR, 0);
	if (ctl < 0)
		die("no /proc/thread-self/fail-nth: the kernel has no CONFIG_FAULT_INJECTION");
	s = num(nth, nb);
	if (sys(NR_write, ctl, (long)s, (long)len(s), 0) < 0)
		die("cannot write fail-nth");
	if (op == WRITE)
		rc = sys(NR_write, fd, (long)argv[4], (long)len(argv[4]), 0);
	else if (op == READ)
		rc = sys(NR_read, fd, (long)data, sizeof(data), 0);
	else
		rc = sys(NR_finit_module, fd, (long)(argc == 4 ? argv[3] : ""), 0, 0);
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
