// A mocha root hook plugin (.mocharc.json and hil-tests/.mocharc.json `require` it): under
// CI=true a test marked to skip (it.skip, describe.skip, xit, an `it` without a body) fails
// the run before anything runs, naming it. A skip decided at run time goes through
// test/support/skip.ts, which fails under CI when the missing part is installable.
import type { Context, Suite } from 'mocha';
import { underCi } from './skip';

function pendingTitles(s: Suite): string[] {
	const own = s.tests.filter((t) => t.isPending()).map((t) => t.fullTitle());
	return [...own, ...s.suites.flatMap(pendingTitles)];
}

export const mochaHooks = {
	beforeAll(this: Context): void {
		if (!underCi()) return;
		let root = this.test?.parent;
		while (root?.parent) root = root.parent;
		const pending = root ? pendingTitles(root) : [];
		if (pending.length) throw new Error('CI=true and ' + pending.length + ' test(s) are marked to skip; nothing may skip in CI:\n  ' + pending.join('\n  '));
	},
};
