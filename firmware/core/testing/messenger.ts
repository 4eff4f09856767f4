/*
 * A link stand-in for request/reply clients (link/requests.ts Messenger): records
 * publishes and withdrawals, lets the test play the broker (`deliver`) and move the
 * link's state (`set`), telling listeners as the link does.
 */
import type { LinkError, LinkListener, Message, MessageHandler } from '../link/link';
import type { LinkState } from '../link/machine';
import type { Messenger } from '../link/requests';
import { topicMatches } from '../mqtt/topic';
import { ok, type Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';

export interface FakeMessenger extends Messenger {
	state: LinkState;
	readonly subs: Map<string, MessageHandler>;
	readonly sent: { topic: string; body: Record<string, unknown>; seq: number }[];
	readonly withdrawn: number[];
	/** What the next publish returns instead of queueing. */
	refuse: LinkError | undefined;
	deliver(topic: string, body: unknown): void;
	set(value: LinkState['value']): void;
}

export function fakeMessenger(state: LinkState['value'] = 'connected'): FakeMessenger {
	const subs = new Map<string, MessageHandler>();
	const listeners: LinkListener[] = [];
	let seq = 0;
	const m: FakeMessenger = {
		state: { value: state } as LinkState,
		subs,
		sent: [],
		withdrawn: [],
		refuse: undefined,
		subscribe(filter: string, handler: MessageHandler): Result<void, LinkError> {
			subs.set(filter, handler);
			return ok(undefined);
		},
		publish(topic: string, payload: Uint8Array): Result<number, LinkError> {
			if (m.refuse) return { ok: false, error: m.refuse };
			m.sent.push({ topic, body: JSON.parse(utf8Decode(payload)!), seq: ++seq });
			return ok(seq);
		},
		withdraw(s: number) {
			m.withdrawn.push(s);
			return true;
		},
		listen(l: LinkListener) {
			listeners.push(l);
			return () => listeners.splice(listeners.indexOf(l) >>> 0, 1);
		},
		deliver(topic: string, body: unknown) {
			const msg: Message = { topic, payload: utf8Encode(typeof body === 'string' ? body : JSON.stringify(body)), qos: 1, dup: false, retain: false };
			for (const [f, h] of subs) if (topicMatches(f, topic)) void h(msg);
		},
		set(value: LinkState['value']) {
			m.state = { value } as LinkState;
			for (const l of listeners) l.state?.(m.state);
		},
	};
	return m;
}
