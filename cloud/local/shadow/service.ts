/*
 * The shadow operations both transports call: get, update, delete and list over one store.
 * A request's reply comes back as a value; what every subscriber should see (update/accepted,
 * update/delta, update/documents, delete/accepted) goes to the `changed` listeners, because
 * AWS publishes those on MQTT whichever transport made the change.
 */
import {
	applyUpdate,
	deleteReply,
	errorReply,
	getReply,
	isShadowName,
	notFound,
	parseUpdate,
	requestToken,
	type DeleteReply,
	type DeltaReply,
	type DocumentsReply,
	type ErrorReply,
	type GetReply,
	type Shadow,
	type UpdateAccepted,
} from './document';
import { isThingName } from '../../../firmware/core/contracts/thing';
import type { ShadowStore } from './store';

export interface ShadowClock {
	/** Epoch milliseconds. */
	now(): number;
}

export type Reply<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ErrorReply };

export type ShadowChange =
	| { readonly kind: 'update'; readonly thing: string; readonly name: string; readonly accepted: UpdateAccepted; readonly delta?: DeltaReply; readonly documents: DocumentsReply }
	| { readonly kind: 'delete'; readonly thing: string; readonly name: string; readonly accepted: DeleteReply };

export interface ListReply {
	readonly results: string[];
	readonly nextToken?: string;
	readonly timestamp: number;
}

export interface ShadowOperations {
	get(thing: string, name: string, payload: Uint8Array | string): Reply<GetReply>;
	update(thing: string, name: string, payload: Uint8Array | string): Reply<UpdateAccepted>;
	delete(thing: string, name: string, payload: Uint8Array | string): Reply<DeleteReply>;
	list(thing: string, pageSize?: number, nextToken?: string): Reply<ListReply>;
	/** Listeners run synchronously, in registration order, after each accepted change. */
	onChange(listener: (change: ShadowChange) => void): () => void;
}

/** AWS ListNamedShadowsForThing: pageSize 1-100 (our default 25). */
export const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 25;

export function createShadowOperations(store: ShadowStore, clock: ShadowClock): ShadowOperations {
	const listeners = new Set<(change: ShadowChange) => void>();
	const emit = (change: ShadowChange): void => {
		for (const l of listeners) l(change);
	};
	const badName = (thing: string, name: string, token?: string): ErrorReply | undefined => {
		if (!isThingName(thing)) return errorReply(400, 'Invalid thing name', clock.now(), token);
		if (!isShadowName(name)) return errorReply(400, 'Invalid shadow name', clock.now(), token);
		return undefined;
	};
	/** The stored shadow a get or delete acts on, with the request's client token; or the error to answer (bad name, no such shadow). */
	const existing = (thing: string, name: string, payload: Uint8Array | string): { ok: true; shadow: Shadow; token: string | undefined } | { ok: false; error: ErrorReply } => {
		const token = requestToken(payload);
		const bad = badName(thing, name, token);
		if (bad) return { ok: false, error: bad };
		const shadow = store.read(thing, name)?.shadow;
		if (!shadow) return { ok: false, error: notFound(thing, name, clock.now(), token) };
		return { ok: true, shadow, token };
	};
	return {
		get(thing, name, payload) {
			const found = existing(thing, name, payload);
			if (!found.ok) return found;
			return { ok: true, value: getReply(found.shadow, clock.now(), found.token) };
		},
		update(thing, name, payload) {
			const now = clock.now();
			const request = parseUpdate(payload, now);
			if (!request.ok) return request;
			const bad = badName(thing, name, request.value.clientToken);
			if (bad) return { ok: false, error: bad };
			const entry = store.read(thing, name);
			const outcome = applyUpdate(entry?.shadow, entry?.version ?? 0, request.value, now);
			if (!outcome.ok) return outcome;
			store.write(thing, name, { shadow: outcome.shadow, version: outcome.shadow.version });
			emit({ kind: 'update', thing, name, accepted: outcome.accepted, documents: outcome.documents, ...(outcome.delta ? { delta: outcome.delta } : {}) });
			return { ok: true, value: outcome.accepted };
		},
		delete(thing, name, payload) {
			const found = existing(thing, name, payload);
			if (!found.ok) return found;
			const { shadow, token } = found;
			store.write(thing, name, { version: shadow.version });
			const accepted = deleteReply(shadow, clock.now(), token);
			emit({ kind: 'delete', thing, name, accepted });
			return { ok: true, value: accepted };
		},
		list(thing, pageSize = DEFAULT_PAGE_SIZE, nextToken) {
			const now = clock.now();
			const bad = badName(thing, '');
			if (bad) return { ok: false, error: bad };
			if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) return { ok: false, error: errorReply(400, 'Invalid pageSize', now) };
			let after: string | undefined;
			if (nextToken !== undefined) {
				after = Buffer.from(nextToken, 'base64url').toString('utf8');
				if (!isShadowName(after) || after === '') return { ok: false, error: errorReply(400, 'Invalid nextToken', now) };
			}
			const all = store.namedShadows(thing).filter((n) => after === undefined || n > after);
			const results = all.slice(0, pageSize);
			const more = all.length > pageSize;
			// the token is the last name returned, so a page stays right when shadows come and go
			const token = more ? Buffer.from(results[results.length - 1] as string, 'utf8').toString('base64url') : undefined;
			return { ok: true, value: { results, ...(token ? { nextToken: token } : {}), timestamp: Math.floor(now / 1000) } };
		},
		onChange(listener) {
			listeners.add(listener);
			return () => void listeners.delete(listener);
		},
	};
}
