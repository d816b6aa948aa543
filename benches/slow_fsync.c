/*
 * A disk with a slow flush, for benchmarks only: preloaded into a process, it makes
 * every fsync and fdatasync take SLOW_SYNC_US microseconds longer (default 4000, as
 * the test VM's disk did on some days). The ledger's `--sync full` numbers depend on
 * the disk's flush time, which on the test VM ranged from 70 us to 5 ms within an
 * hour; this gives the same slow flush in every round. See docs/BENCHMARKS.md.
 *
 *   gcc -O2 -shared -fPIC -o target/slow_fsync.so benches/slow_fsync.c -ldl
 *   LD_PRELOAD=$PWD/target/slow_fsync.so target/release/examples/loadgen compare ...
 *
 * The loadgen's fsync probe and the servers it starts inherit LD_PRELOAD, so the
 * bound and the ledger see the same flush time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void slow_down(void) {
    const char *text = getenv("SLOW_SYNC_US");
    long us = text ? atol(text) : 4000;
    struct timespec pause = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&pause, NULL);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow_down();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow_down();
    return real(fd);
}
