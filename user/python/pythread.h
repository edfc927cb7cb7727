/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How the BPF stack walk recognises the writing thread's PyThreadState: its thread_id is
 * pthread_self(), which glibc derives from the thread pointer. On x86-64 the two are equal (the
 * thread control block is struct pthread, at the fs base); on arm64 the thread pointer
 * (tpidr_el0) points just past struct pthread, so pthread_self() = thread pointer -
 * sizeof(struct pthread), a size that changes with glibc's version and is read from the
 * target's own libc.
 */
#ifndef COWTRACE_PYTHREAD_H
#define COWTRACE_PYTHREAD_H

#include <stdbool.h>

/*
 * sizeof(struct pthread) as the glibc in file fd records it for its debuggers
 * (_thread_db_sizeof_pthread, a 32-bit value in .dynsym, GLIBC_PRIVATE), or -1 when the file
 * is not such a glibc or the value is implausible. The file is untrusted.
 */
long pythread_sizeof_pthread(int fd);

/* The same, of the glibc process pid maps (its libc.so.6); -1 when none is found. */
long pythread_target_sizeof_pthread(int pid);

/*
 * thread pointer - pthread_self() for the threads of process pid: 0 on x86-64; on arm64 the
 * size read from the libc pid maps, else (no glibc mapped: not yet, just after exec, or none:
 * musl, a static build) this process's own glibc's, and *guessed set. Never negative.
 */
unsigned int pythread_ptr_bias(int pid, bool *guessed);

#endif
