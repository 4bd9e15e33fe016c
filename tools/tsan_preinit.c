/* Preloaded right after libtsan (tools/dev's TSan pass) into every process
 * the specs start. A program not built with -fsanitize=thread initialises
 * the TSan runtime lazily, at its first intercepted call; when that call is
 * setjmp (dash and bash make it first), TSan's setjmp interceptor jumps to a
 * real setjmp it has not looked up yet, and the shell dies with SIGSEGV.
 * Initialising the runtime from a constructor, before main, avoids that. */
void __tsan_init(void);

__attribute__((constructor)) static void hw_tsan_preinit(void) { __tsan_init(); }
