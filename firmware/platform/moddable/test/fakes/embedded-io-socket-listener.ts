/*
 * Fake of ECMA-419 `embedded:io/socket/listener` on lin (modules/io/socket/lin/listener.js and
 * tcp.c): binds `port` (0: any free one, read back from `port`), onReadable(n) with the number of
 * connections waiting, read() hands the next one over as a TCP to adopt with `new TCP({from})`,
 * undefined when none waits; close(). Driven by the test through `listenerFake`.
 */
import TCP from './embedded-io-socket-tcp';

let nextPort = 40100;

export default class Listener {
	readonly port: number;
	#pending: TCP[] = [];
	#open = true;
	readonly #onReadable: ((this: Listener, n: number) => void) | undefined;
	constructor(options: { port?: number; onReadable?: (this: Listener, n: number) => void }) {
		this.port = options.port ? options.port : nextPort++;
		this.#onReadable = options.onReadable;
		listenerFake.all.push(this);
	}
	read(): TCP | undefined {
		return this.#pending.shift();
	}
	close(): void {
		this.#open = false;
	}
	get isOpen(): boolean {
		return this.#open;
	}
	/** A client connected; answers its socket as the listener hands it over (before adoption). */
	connect(): TCP {
		const t = new TCP();
		this.#pending.push(t);
		if (this.#open) this.#onReadable?.call(this, this.#pending.length);
		return t;
	}
}

export const listenerFake = {
	all: [] as Listener[],
	get last(): Listener {
		const l = this.all[this.all.length - 1];
		if (!l) throw new Error('no Listener was made');
		return l;
	},
	reset(): void {
		this.all.length = 0;
	},
};
