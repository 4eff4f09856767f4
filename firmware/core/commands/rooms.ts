/*
 * The rooms this robot knows (its map's rooms, given by the platform) reported on the status
 * shadow as `reported.rooms`, so the app offers the robot's own rooms rather than a guess: the
 * same list a clean-now command is decided against (decide.ts, UNKNOWN_ROOM). Bounded by the
 * command's own limits (MAX_ROOMS names of 1-32 [a-z0-9_-]: at most ~600 bytes of the shadow).
 * Written once per boot when the link is up; a write the cloud did not accept is logged and tried
 * again at the next connect.
 */
import type { LogPort } from '../../ports';
import type { LinkListener } from '../link/link';
import type { LinkState } from '../link/machine';
import type { ShadowClient } from '../shadow/client';
import { MAX_ROOMS, ROOM } from './command';

/** The rooms as the robot may report and decide on them; a TypeError says what is wrong. */
export function checkRooms(rooms: unknown): readonly string[] {
	if (!Array.isArray(rooms)) throw new TypeError('"rooms" expected an array of room names');
	if (rooms.length > MAX_ROOMS) throw new TypeError('"rooms" expected at most ' + MAX_ROOMS + ' names, got ' + rooms.length);
	const seen: string[] = [];
	for (const r of rooms) {
		if (typeof r !== 'string' || !ROOM.test(r)) throw new TypeError('"rooms" expected names of 1-32 [a-z0-9_-], got ' + JSON.stringify(r));
		if (seen.indexOf(r) >= 0) throw new TypeError('"rooms" names ' + r + ' twice');
		seen.push(r);
	}
	return seen;
}

export class RoomsReporter {
	readonly #shadow: Pick<ShadowClient, 'update'>;
	readonly #log: LogPort;
	readonly #rooms: readonly string[];
	#busy = false;
	/** True once the cloud accepted the list this boot. */
	reported = false;

	constructor(link: { listen(l: LinkListener): () => void; readonly state: LinkState }, shadow: Pick<ShadowClient, 'update'>, log: LogPort, rooms: readonly string[]) {
		this.#shadow = shadow;
		this.#log = log;
		this.#rooms = checkRooms(rooms);
		link.listen({ state: (s) => void (s.value === 'connected' && this.report()) });
		if (link.state.value === 'connected') void this.report();
	}

	/** Resolves true when the cloud accepted the list (now or earlier this boot). */
	async report(): Promise<boolean> {
		if (this.reported) return true;
		if (this.#busy) return false;
		this.#busy = true;
		try {
			const r = await this.#shadow.update({ reported: { rooms: [...this.#rooms] } });
			if (!r.ok) {
				this.#log.log('warn', 'rooms.report_failed', { code: r.error.code });
				return false;
			}
			this.reported = true;
			this.#log.log('info', 'rooms.reported', { rooms: this.#rooms.length });
			return true;
		} finally {
			this.#busy = false;
		}
	}
}
