/*
 * Line-buffers the stdout and stderr of a process it is preloaded into (LD_PRELOAD), as coreutils'
 * `stdbuf -oL -eL` does: mcsim's trace goes to stdout, which is block-buffered on a pipe, and the
 * runner reads the trace line by line as it comes. stdbuf's own library is built for the host's
 * word size only, so test/device/headless.ts compiles this for a 32-bit (`--m32`) simulator.
 */
#include <stdio.h>

__attribute__((constructor)) static void lineBuffer(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IOLBF, 0);
}
