/*
 * A regular expression made when it is used, never while its module loads.
 *
 * Why: the Moddable build preloads the device's modules, so a RegExp made in a module's body is
 * made at build time and lives in ROM without match data. XS 8.2.3 allocates that data at every
 * exec (fxAllocateRegExpData, xs/sources/xsre.c): it takes a chunk and then, an `else` missing,
 * overwrites the pointer with c_malloc memory. So each test() leaks, and a collection during the
 * exec marks and "moves" a chunk that is malloc's, writing into malloc's headers and reading a
 * size back as the data's address (mcsim died with SIGSEGV in fx_RegExp_prototype_exec in the
 * device suite; docs/device.md). A RegExp made at run time owns its match data in the chunk heap.
 * So device code keeps no RegExp in a module's body, only a Pattern, which makes its RegExp at
 * each test or exec and lets it go: kept, the 13 of them held chunk and slots for the life of the
 * program, and the robot day on the 32-bit build then aborted "memory full" at the ESP32's stock
 * creation; made per call they are short-lived garbage, at the cost of compiling the pattern again.
 * Without the g or y flag a RegExp keeps no state between calls.
 */

export interface Pattern {
	test(s: string): boolean;
	exec(s: string): RegExpExecArray | null;
}

/** `make` returns the RegExp literal; it runs at each test or exec, at run time. */
export function pattern(make: () => RegExp): Pattern {
	const get = (): RegExp => {
		const made = make();
		if (made.global || made.sticky) throw new RangeError('pattern: a g or y flag keeps state between calls');
		return made;
	};
	return {
		test: (s) => get().test(s),
		exec: (s) => get().exec(s),
	};
}
