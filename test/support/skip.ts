// What a test does when a part it needs is not on this machine (issue 22, "no silent skip"):
// - under CI=true (`.ci/run` exports it) anything installable that is missing is a failure
//   whose message is the command that installs it: CI must never pass a suite it did not run;
// - outside CI the test is skipped with one loud line on stderr naming what was not tested,
//   so a green local run does not hide it.
// A skip that depends on configuration rather than on an install (the rig pointed at AWS)
// gives no `install`: it is not an error under CI, CI's configuration runs it.

export interface Missing {
	/** what goes untested, e.g. 'factory provisioning with the CA key in SoftHSM2' */
	readonly untested: string;
	/** why it cannot run here, e.g. 'libsofthsm2.so not found' */
	readonly why: string;
	/** the command that installs the missing part; present: a failure under CI=true */
	readonly install?: string;
}

/** CI=true, as `.ci/run` and most CI services set it. */
export function underCi(): boolean {
	return process.env.CI === 'true' || process.env.CI === '1';
}

/** The one loud line printed for a skip outside CI. */
export function skipLine(m: Missing): string {
	return '*** SKIPPED, NOT TESTED: ' + m.untested + ' (' + m.why + ')' + (m.install ? '; install: ' + m.install : '');
}

/**
 * Call from a mocha hook or test (`function () {}`, so `this` is mocha's context): throws
 * under CI=true when `install` is given, else prints the loud line and skips.
 */
export function cannotRun(ctx: { skip(): void }, m: Missing): never {
	if (m.install && underCi()) {
		throw new Error('CI=true and ' + m.untested + ' cannot run: ' + m.why + '. Install it: ' + m.install);
	}
	process.stderr.write(skipLine(m) + '\n');
	ctx.skip();
	throw new Error('unreachable: mocha skip() throws');
}
