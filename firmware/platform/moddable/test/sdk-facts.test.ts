/*
 * The facts of ./sdk-facts/facts.ts over the fakes: the same checks that tools/sdk-facts.ts
 * runs on the real SDK (lin, mcsim). A fake that stops behaving as the SDK fails here.
 */
import { FACTS } from './sdk-facts/facts';
import { loop } from './fakes/loop';
import { preferenceFake } from './fakes/preference';
import { timeFake } from './fakes/time';

describe('the SDK fakes keep the facts observed on the real runtime (sdk-facts/facts.ts)', () => {
	beforeEach(() => {
		loop.reset();
		timeFake.reset();
		preferenceFake.reset(); // lin, as the runtime the facts were observed on
	});
	for (const f of FACTS) {
		it(f.name, () =>
			f.check(async (ms) => {
				loop.advance(ms);
			}),
		);
	}
});
