/*
 * The test-control transport of the lin build (mcsim has no serial port): a TCP listener,
 * ECMA-419 `embedded:io/socket/listener` (modules/io/manifests/lin). One rig at a time:
 * a new connection replaces the previous one (a rig that crashed leaves a half-open
 * socket behind). Moddable's lin listener binds every interface whatever `address`
 * says, which is why this is a test build's only.
 * esp32 maps this module to transport-esp32.ts (the console UART), same exports.
 */
import Listener from 'embedded:io/socket/listener';
import TCP from 'embedded:io/socket/tcp';
import type { LogPort } from '../../../ports';
import type { SessionHooks, TestTransport, TransportOptions } from './transport-types';
import { Output } from '../../../core/testcmd/output';

export type { SessionHooks, TestTransport, TransportOptions } from './transport-types';

export function openTestTransport(o: TransportOptions, hooks: SessionHooks, log: LogPort): TestTransport {
	let client: TCP | undefined;
	const drop = (why: string) => {
		const c = client;
		if (!c) return;
		client = undefined;
		c.close();
		log.log('info', 'testcmd.disconnected', { why });
		hooks.closed?.();
	};
	const accept = (from: TCP) => {
		drop('replaced by a new connection');
		const session = hooks.open();
		let socket: TCP | undefined;
		const output = new Output((bytes) => socket?.write(bytes), log);
		socket = new TCP({
			from,
			format: 'buffer',
			onReadable(count) {
				const bytes = socket!.read(count) as ArrayBuffer;
				for (const reply of session.push(new Uint8Array(bytes))) output.send(reply);
			},
			onWritable(room) {
				output.writable(room);
			},
			onError() {
				if (client === socket) drop('closed by the rig');
			},
		});
		client = socket;
		log.log('info', 'testcmd.connected', {});
	};
	const listener = new Listener({
		port: o.port ?? 0,
		onReadable(count) {
			for (let i = 0; i < count; i++) {
				const from = listener.read();
				if (!from) break;
				accept(from);
			}
		},
	});
	return {
		where: listener.port,
		close() {
			drop('closed');
			// the SDK's typings leave close() out; ECMA-419 and the lin listener have it
			(listener as unknown as { close(): void }).close();
		},
	};
}
