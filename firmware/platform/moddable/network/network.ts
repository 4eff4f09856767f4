/*
 * Network start on lin: the host's network stands in for Wi-Fi, so it is up at once.
 * esp32 maps this module name to network-esp32.ts (same exports), which joins the Wi-Fi
 * network from the onboarding record and reports it going down and up again.
 */
import Timer from 'timer';
import type { LogPort } from '../../../ports';

export interface NetworkOptions {
	readonly log: LogPort;
	/** Called with true when the robot has an address, false when it lost it. */
	readonly onChange: (up: boolean) => void;
}

export interface NetworkHandle {
	readonly up: boolean;
	stop(): void;
}

export function startNetwork(o: NetworkOptions): NetworkHandle {
	let up = false;
	// as on a board, never from inside the caller's own start-up
	const t = Timer.set(() => {
		up = true;
		o.log.log('info', 'network.up', { via: 'host' });
		o.onChange(true);
	}, 0);
	return {
		get up() {
			return up;
		},
		stop: () => Timer.clear(t),
	};
}
