/*
 * ptprobe: the real-kernel side of `ptbench validate`. Maps a region in N processes and holds them
 * there while ptbench reads their VmPTE (and, for hugeprot, PageTables from /proc/meminfo); also
 * times real faults and fork.
 *
 *   ptprobe shmem   PROCS SIZE OFFSET   N processes map one memfd of SIZE bytes MAP_SHARED at
 *                                       BASE + OFFSET, mark it MADV_NOHUGEPAGE and write-fault every
 *                                       page (MADV_POPULATE_WRITE, or a store per page before 5.14)
 *   ptprobe hugetlb PROCS SIZE OFFSET   the same with a MFD_HUGETLB memfd (2 MiB pages)
 *   ptprobe hugeprot PROCS SIZE OFFSET  hugetlb, then the first process mprotects the first 2 MiB
 *                                       PROT_READ and reads one byte of every 2 MiB page of the
 *                                       first GiB (hugetlb_split/hugetlb_change_protection unshare
 *                                       its PMD table; the refault allocates a private one)
 *   ptprobe anon    FORK  SIZE 0        one process maps SIZE bytes of private anonymous memory,
 *                                       MADV_NOHUGEPAGE, and writes every page; with FORK=1 it then
 *                                       forks a child that only waits (copy_page_range copies the
 *                                       tables); with FORK=2 it then MADV_DONTNEEDs all of it instead
 *   ptprobe sharedfork 1 SIZE 0         one process maps a memfd of SIZE bytes MAP_SHARED, writes
 *                                       every page, then forks a child that only waits (no tables
 *                                       copied: vma_needs_copy() is false for a shared mapping)
 *
 * BASE is 16 TiB, a 512 GiB-aligned address in a PGD entry of its own, so the mapping needs its own
 * PUD, PMD and PTE tables. The probe goes in stages, so that ptbench reads PageTables of the same
 * processes before and after (the processes' own tables cancel out):
 *   "idle pids=P,..."          every process exists, nothing mapped; P are the processes that will
 *                              hold the mapping (ptbench reads their VmPTE, sends a line)
 *   "mapped touch_ns=T"        every process holds its populated mapping   (reads, sends a line)
 *   "forked fork_ns=F child=P" anon FORK=1, sharedfork: child P exists      (reads, sends a line)
 *   "dontneed"                 anon with FORK=2 only: MADV_DONTNEED done   (reads, sends a line)
 *   "mprotected"               hugeprot only: mprotect and refault done    (reads, sends a line)
 * then it kills the children, reaps them and exits 0. EOF on stdin at any stage ends it the same way.
 * It runs without address-space randomization (it re-executes itself with ADDR_NO_RANDOMIZE), so
 * that two runs lay out libc, heap and stack alike and their own tables cancel exactly.
 * Errors: one line "ptprobe: error: ..." on stderr, exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define BASE (16ULL << 40)

static void die(const char *what) {
	fprintf(stderr, "ptprobe: error: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static pid_t kids[4096];
static long nkids;

static void finish(int code) {
	for (long k = 0; k < nkids; k++) kill(kids[k], SIGKILL);
	for (long k = 0; k < nkids; k++) waitpid(kids[k], NULL, 0);
	exit(code);
}

/* Wait for ptbench's line; EOF ends the run. */
static void await_line(void) {
	char line[16];
	if (fgets(line, sizeof line, stdin) == NULL) finish(0);
}

/* The "idle" line with the processes that will hold the mapping, so ptbench reads their VmPTE. */
static void print_idle(void) {
	printf("idle pids=");
	if (nkids == 0) printf("%ld", (long)getpid());
	for (long k = 0; k < nkids; k++) printf("%s%ld", k ? "," : "", (long)kids[k]);
	printf("\n");
}

static void child_wait(int fd) {
	char c;
	while (read(fd, &c, 1) < 0 && errno == EINTR) {}
}

/* 4 KiB pages, as the simulator models: no transparent huge pages on the region (EINVAL: no THP). */
static int no_thp(void *p, unsigned long long size) {
	return madvise(p, size, MADV_NOHUGEPAGE) == 0 || errno == EINVAL ? 0 : -1;
}

/* Write-fault every page: MADV_POPULATE_WRITE (5.14+), else a store per page. */
static int populate_write(char *p, unsigned long long size, unsigned long long page) {
	if (madvise(p, size, MADV_POPULATE_WRITE) == 0) return 0;
	if (errno != EINVAL) return -1;
	for (unsigned long long o = 0; o < size; o += page) p[o] = 1;
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "ptprobe: error: usage: ptprobe shmem|hugetlb|hugeprot|anon|sharedfork PROCS|FORK SIZE OFFSET\n");
		return 1;
	}
	int pers = personality(0xffffffff);
	if (pers != -1 && !(pers & ADDR_NO_RANDOMIZE) && personality(pers | ADDR_NO_RANDOMIZE) != -1) {
		execv("/proc/self/exe", argv);
		/* Could not re-execute: carry on randomized (the differentials may be off by a table). */
	}
	const char *mode = argv[1];
	long procs = strtol(argv[2], NULL, 10);
	unsigned long long size = strtoull(argv[3], NULL, 10);
	unsigned long long offset = strtoull(argv[4], NULL, 10);
	int sharedfork = strcmp(mode, "sharedfork") == 0;
	int anon = strcmp(mode, "anon") == 0 || sharedfork;
	int hugeprot = strcmp(mode, "hugeprot") == 0;
	int huge = strcmp(mode, "hugetlb") == 0 || hugeprot;
	if (!anon && !huge && strcmp(mode, "shmem") != 0) {
		fprintf(stderr, "ptprobe: error: unknown mode '%s' (shmem, hugetlb, hugeprot, anon, sharedfork)\n", mode);
		return 1;
	}
	if (procs < (anon ? 0 : 1) || procs > (anon ? 2 : 4096)) {
		fprintf(stderr, "ptprobe: error: bad process count %ld\n", procs);
		return 1;
	}
	void *addr = (void *)(BASE + offset);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (anon) {
		print_idle();
		await_line();
		long long t0 = now_ns();
		if (size > 0) {
			int mfd = -1;
			if (sharedfork) {
				mfd = memfd_create("ptprobe", 0);
				if (mfd < 0) die("memfd_create");
				if (ftruncate(mfd, (off_t)size) < 0) die("ftruncate");
			}
			char *p = mmap(addr, size, PROT_READ | PROT_WRITE, (sharedfork ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS) | MAP_FIXED_NOREPLACE, mfd, 0);
			if (p == MAP_FAILED) die("mmap");
			if (no_thp(p, size) < 0) die("madvise(MADV_NOHUGEPAGE)");
			for (unsigned long long o = 0; o < size; o += 4096) p[o] = 1;
		}
		printf("mapped touch_ns=%lld\n", now_ns() - t0);
		await_line();
		if (procs == 1 || sharedfork) {
			t0 = now_ns();
			pid_t pid = fork();
			if (pid < 0) die("fork");
			if (pid == 0) {
				for (;;) pause();
			}
			long long fork_ns = now_ns() - t0;
			kids[nkids++] = pid;
			printf("forked fork_ns=%lld child=%ld\n", fork_ns, (long)pid);
			await_line();
		}
		if (procs == 2 && !sharedfork) {
			/* Zap every page; with CONFIG_PT_RECLAIM (6.14+) the emptied PTE tables are freed too. */
			if (size > 0 && madvise(addr, size, MADV_DONTNEED) < 0) die("madvise(MADV_DONTNEED)");
			printf("dontneed\n");
			await_line();
		}
		finish(0);
	}

	int fd = memfd_create("ptprobe", huge ? MFD_HUGETLB : 0);
	if (fd < 0) die("memfd_create");
	if (ftruncate(fd, (off_t)size) < 0) die("ftruncate");
	int up[2], go[2], prot[2];
	if (pipe(up) < 0 || pipe(go) < 0 || pipe(prot) < 0) die("pipe");
	for (long i = 0; i < procs; i++) {
		pid_t pid = fork();
		if (pid < 0) die("fork");
		if (pid == 0) {
			char c = 'r';
			close(up[0]);
			close(go[1]);
			if (write(up[1], &c, 1) != 1) _exit(1);
			child_wait(go[0]);
			c = 'm';
			if (size > 0) {
				char *p = mmap(addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
				if (p == MAP_FAILED || (!huge && no_thp(p, size) < 0) || populate_write(p, size, huge ? 2 << 20 : 4096) < 0) {
					fprintf(stderr, "ptprobe: error: mmap %s: %s\n", mode, strerror(errno));
					c = 'e';
				}
			}
			if (write(up[1], &c, 1) != 1) _exit(1);
			if (hugeprot && i == 0 && c == 'm') {
				/* Wait for the parent's word, then unshare by mprotect and refault by reads. */
				child_wait(prot[0]);
				volatile char *p = addr;
				char sum = 0;
				c = 'p';
				if (mprotect(addr, 2 << 20, PROT_READ) < 0) c = 'e';
				for (unsigned long long o = 0; c == 'p' && o < (1ULL << 30) && o < size; o += 2 << 20) sum += p[o];
				(void)sum;
				if (write(up[1], &c, 1) != 1) _exit(1);
			}
			/* Hold the mapping until the parent kills us (one "go" byte per child, so never read again). */
			for (;;) pause();
		}
		kids[nkids++] = pid;
	}
	close(up[1]);
	close(go[0]);
	for (long i = 0; i < procs; i++) {
		char c;
		if (read(up[0], &c, 1) != 1) die("a child died");
	}
	print_idle();
	await_line();
	long long t0 = now_ns();
	for (long i = 0; i < procs; i++) {
		if (write(go[1], "g", 1) != 1) die("write");
	}
	for (long i = 0; i < procs; i++) {
		char c;
		if (read(up[0], &c, 1) != 1 || c != 'm') {
			fprintf(stderr, "ptprobe: error: a child could not map the region\n");
			finish(1);
		}
	}
	printf("mapped touch_ns=%lld\n", now_ns() - t0);
	await_line();
	if (hugeprot) {
		char c;
		if (write(prot[1], "p", 1) != 1) die("write");
		if (read(up[0], &c, 1) != 1 || c != 'p') {
			fprintf(stderr, "ptprobe: error: mprotect or the refault failed\n");
			finish(1);
		}
		printf("mprotected\n");
		await_line();
	}
	finish(0);
}
