import * as assert from '../testing/assert';
import { Runner, type Transition } from './runner';

type S = { readonly n: number };
type E = { readonly type: 'inc' } | { readonly type: 'twice' } | { readonly type: 'nop' };
type F = { readonly type: 'say'; readonly n: number } | { readonly type: 'again' };

function step(s: S, e: E): Transition<S, F> | undefined {
	if (e.type === 'nop') return undefined;
	const n = s.n + 1;
	return { state: { n }, effects: e.type === 'twice' ? [{ type: 'again' }, { type: 'say', n }] : [{ type: 'say', n }] };
}

describe('runner (run to completion)', () => {
	it('sets the state before effects run; an event dispatched by an effect waits for the step to finish', () => {
		const trace: string[] = [];
		const r: Runner<S, E, F> = new Runner<S, E, F>(
			{ n: 0 },
			{
				step,
				perform(fx) {
					if (fx.type === 'again') {
						trace.push('again at ' + r.state.n);
						assert.equal(r.dispatch({ type: 'inc' }), undefined);
					} else trace.push('say ' + fx.n + ' at ' + r.state.n);
				},
				entered: (s, from) => trace.push('entered ' + from.n + '->' + s.n),
				settled: (s, from) => trace.push('settled ' + from.n + '->' + s.n),
				ignored: (s, e) => trace.push('ignored ' + e.type + ' at ' + s.n),
			},
		);
		r.dispatch({ type: 'twice' });
		r.dispatch({ type: 'nop' });
		assert.deepEqual(trace, ['entered 0->1', 'again at 1', 'say 1 at 1', 'settled 0->1', 'entered 1->2', 'say 2 at 2', 'settled 1->2', 'ignored nop at 2']);
		assert.equal(r.running, false);
	});

	it('admit refuses a transition: the state stays, no effect runs, the reason is returned', () => {
		const said: number[] = [];
		let refuse = true;
		const r = new Runner<S, E, F>({ n: 0 }, { step, perform: (fx) => fx.type === 'say' && said.push(fx.n), admit: () => (refuse ? 'full' : undefined) });
		assert.equal(r.dispatch({ type: 'inc' }), 'full');
		assert.deepEqual([r.state.n, said], [0, []]);
		refuse = false;
		assert.equal(r.dispatch({ type: 'inc' }), undefined);
		assert.deepEqual([r.state.n, said], [1, [1]]);
	});

	it('an effect that throws leaves the runner usable and drops what it queued', () => {
		let boom = true;
		const r: Runner<S, E, F> = new Runner<S, E, F>(
			{ n: 0 },
			{
				step,
				perform(fx) {
					if (fx.type === 'again') r.dispatch({ type: 'inc' });
					if (boom && fx.type === 'say') throw new Error('boom');
				},
			},
		);
		assert.throws(() => r.dispatch({ type: 'twice' }), /boom/);
		assert.equal(r.state.n, 1, 'the queued inc did not run');
		boom = false;
		r.dispatch({ type: 'inc' });
		assert.equal(r.state.n, 2);
	});
});
