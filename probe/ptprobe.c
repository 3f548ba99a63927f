/*
 * ptprobe: the real-kernel side of `ptbench validate`. Maps a region in N processes and holds them
 * there while ptbench reads PageTables from /proc/meminfo; also times real faults and fork.
 *
 *   ptprobe shmem   PROCS SIZE OFFSET   N processes map one memfd of SIZE bytes MAP_SHARED at
 *                                       BASE + OFFSET and fault in every page (MAP_POPULATE)
 *   ptprobe hugetlb PROCS SIZE OFFSET   the same with a MFD_HUGETLB memfd (2 MiB pages)
 *   ptprobe anon    FORK  SIZE 0        one process maps SIZE bytes of private anonymous memory and
 *                                       writes every page; with FORK=1 it then forks a child that
 *                                       only waits (copy_page_range copies the tables); with FORK=2
 *                                       it then MADV_DONTNEEDs the whole mapping instead
 *
 * BASE is 16 TiB, a 512 GiB-aligned address in a PGD entry of its own, so the mapping needs its own
 * PUD, PMD and PTE tables. The probe goes in stages, so that ptbench reads PageTables of the same
 * processes before and after (the processes' own tables cancel out):
 *   "idle"                     every process exists, nothing mapped        (ptbench reads, sends a line)
 *   "mapped touch_ns=T"        every process holds its populated mapping   (reads, sends a line)
 *   "forked fork_ns=F"         anon with FORK=1 only: the child exists     (reads, sends a line)
 *   "dontneed"                 anon with FORK=2 only: MADV_DONTNEED done   (reads, sends a line)
 * then it kills the children, reaps them and exits 0. EOF on stdin at any stage ends it the same way.
 * Errors: one line "ptprobe: error: ..." on stderr, exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static void child_wait(int fd) {
	char c;
	while (read(fd, &c, 1) < 0 && errno == EINTR) {}
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "ptprobe: error: usage: ptprobe shmem|hugetlb|anon PROCS|FORK SIZE OFFSET\n");
		return 1;
	}
	const char *mode = argv[1];
	long procs = strtol(argv[2], NULL, 10);
	unsigned long long size = strtoull(argv[3], NULL, 10);
	unsigned long long offset = strtoull(argv[4], NULL, 10);
	int anon = strcmp(mode, "anon") == 0;
	int huge = strcmp(mode, "hugetlb") == 0;
	if (!anon && !huge && strcmp(mode, "shmem") != 0) {
		fprintf(stderr, "ptprobe: error: unknown mode '%s' (shmem, hugetlb, anon)\n", mode);
		return 1;
	}
	if (procs < (anon ? 0 : 1) || procs > (anon ? 2 : 4096)) {
		fprintf(stderr, "ptprobe: error: bad process count %ld\n", procs);
		return 1;
	}
	void *addr = (void *)(BASE + offset);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (anon) {
		printf("idle\n");
		await_line();
		long long t0 = now_ns();
		if (size > 0) {
			char *p = mmap(addr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (p == MAP_FAILED) die("mmap anon");
			/* 4 KiB pages, as the simulator models: no transparent huge pages here. */
			if (madvise(p, size, MADV_NOHUGEPAGE) < 0) die("madvise(MADV_NOHUGEPAGE)");
			for (unsigned long long o = 0; o < size; o += 4096) p[o] = 1;
		}
		printf("mapped touch_ns=%lld\n", now_ns() - t0);
		await_line();
		if (procs == 1) {
			t0 = now_ns();
			pid_t pid = fork();
			if (pid < 0) die("fork");
			if (pid == 0) {
				for (;;) pause();
			}
			long long fork_ns = now_ns() - t0;
			kids[nkids++] = pid;
			printf("forked fork_ns=%lld\n", fork_ns);
			await_line();
		}
		if (procs == 2) {
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
	int up[2], go[2];
	if (pipe(up) < 0 || pipe(go) < 0) die("pipe");
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
			if (size > 0 && mmap(addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_POPULATE, fd, 0) == MAP_FAILED) {
				fprintf(stderr, "ptprobe: error: mmap %s: %s\n", mode, strerror(errno));
				c = 'e';
			}
			if (write(up[1], &c, 1) != 1) _exit(1);
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
	printf("idle\n");
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
	finish(0);
}
