/*
 * `npm start`: the local cloud and simulated robots (the firmware's core on the
 * host platform), telling what happens as a timeline. The story so far: the robot
 * connects over mutual TLS, subscribes, gets a command from the cloud, sends a
 * QoS 1 message that the broker acknowledges, loses the broker, keeps cleaning
 * and queues its messages durably, and delivers every one of them when the
 * broker is back.
 *
 *   npm start -- [--robots N] [--keep] [--data DIR] [--port N]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Link } from '../firmware/core/link/link';
import { createFileStorage, hostPorts, readCredentials } from '../firmware/platform/host/index';
import type { LogPort } from '../firmware/ports';
import { startLocalCloud } from '../cloud/local/index';

const { values } = parseArgs({
	options: {
		robots: { type: 'string', default: '1' },
		keep: { type: 'boolean', default: false },
		data: { type: 'string', default: '.data' },
		port: { type: 'string', default: '0' },
		verbose: { type: 'boolean', default: false },
	},
});
const count = Number(values.robots);
if (!Number.isInteger(count) || count < 1 || count > 1000) {
	console.error('--robots expected 1..1000, got ' + values.robots);
	process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
	console.error('--port expected 0..65535, got ' + values.port);
	process.exit(2);
}

const t0 = performance.now();
const color = process.stdout.isTTY ? (c: number, s: string) => `\x1b[${c}m${s}\x1b[0m` : (_c: number, s: string) => s;
function say(who: string, what: string, detail = ''): void {
	const t = ((performance.now() - t0) / 1000).toFixed(2).padStart(6);
	console.log(`${color(90, t + 's')}  ${who.padEnd(9)} ${what}${detail ? '  ' + color(90, detail) : ''}`);
}
const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const things = Array.from({ length: count }, (_, i) => 'robot-' + (i + 1));
const cloud = await startLocalCloud({
	dataDir: path.join(values.data!, 'local-cloud'),
	mqttPort: port,
	things,
	log: (e) => {
		if (values.verbose || e.level === 'error') say('cloud', e.event, JSON.stringify(e));
	},
});
say('cloud', 'local cloud up', `${cloud.endpoints.mqtt}  CA ${cloud.endpoints.caPath}`);

interface Robot {
	thing: string;
	link: Link;
}

function makeRobot(thing: string): Robot {
	const dir = path.join(values.data!, 'robots', thing);
	fs.mkdirSync(dir, { recursive: true });
	const log: LogPort = {
		log(level, event, fields) {
			if (values.verbose || level === 'error') say(thing, event, JSON.stringify(fields ?? {}));
		},
	};
	const link = new Link(hostPorts(createFileStorage(path.join(dir, 'storage')), log), {
		endpoint: { host: '127.0.0.1', port: Number(new URL(cloud.endpoints.mqtt).port), tls: { ...readCredentials(cloud.pki.paths.thing(thing).dir), serverName: 'localhost' } },
		clientId: thing,
		keepAlive: 60,
		backoff: { baseMs: 250, capMs: 4000 },
	});
	link.listen({
		state: (s) => {
			if (count > 3 && thing !== 'robot-1') return;
			const extra = s.value === 'connected' ? `session present: ${s.sessionPresent ? 'yes' : 'no'}` : s.value === 'waiting' ? `attempt ${s.attempt}, ${s.reason}` : '';
			say(thing, 'link ' + s.value, extra);
		},
		subscription: (filter, granted) => {
			if (count <= 3 || thing === 'robot-1') say(thing, granted === 0x80 ? 'subscription REFUSED' : 'subscribed', filter);
		},
		delivered: (seq, topic) => {
			if (count <= 3 || thing === 'robot-1') say(thing, 'PUBACK', `outbox #${seq} ${topic}`);
		},
	});
	link.subscribe(`robots/${thing}/commands/#`, (m) => say(thing, 'command received', `${m.topic} ${dec.decode(m.payload)}`));
	return { thing, link };
}

const robots = things.map(makeRobot);
let stopping = false;
async function shutdown(code: number): Promise<never> {
	stopping = true;
	for (const r of robots) r.link.stop();
	await cloud.close();
	say('story', code === 0 ? 'stopped cleanly' : 'stopped with errors');
	process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
	const t = Date.now();
	while (!cond()) {
		if (stopping) return;
		if (Date.now() - t > ms) throw new Error('timed out: ' + what);
		await sleep(20);
	}
}

try {
	say('story', `${count} robot${count > 1 ? 's' : ''} boot and connect over mutual TLS 1.2`);
	for (const r of robots) r.link.start();
	await until('all connected', () => robots.every((r) => r.link.state.value === 'connected' && r.link.subscription(`robots/${r.thing}/commands/#`) === 'granted'));
	const first = robots[0]!;

	say('story', 'the cloud sends robot-1 a command');
	await cloud.broker.publish(`robots/${first.thing}/commands/clean`, JSON.stringify({ rooms: ['kitchen'] }), 1);
	await sleep(200);

	say('story', 'each robot sends a QoS 1 message; it leaves the outbox on PUBACK');
	for (const r of robots) r.link.publish(`robots/${r.thing}/hello`, enc.encode(JSON.stringify({ at: Date.now() })), 1, true);
	await until('outboxes empty', () => robots.every((r) => r.link.outbox.size === 0));

	say('story', 'the broker goes away; the robots keep working and queue their messages on storage');
	await cloud.stopBroker();
	await until('links down', () => robots.every((r) => r.link.state.value !== 'connected'));
	for (const r of robots) for (let i = 1; i <= 3; i++) r.link.publish(`robots/${r.thing}/events`, enc.encode(JSON.stringify({ n: i })), 1, true);
	say(first.thing, `outbox holds ${first.link.outbox.size} messages (${first.link.outbox.bytes} bytes)`);
	await sleep(1500);

	say('story', 'the broker is back on the same port');
	await cloud.startBroker();
	await until('outboxes drained', () => robots.every((r) => r.link.state.value === 'connected' && r.link.outbox.size === 0));
	const received = cloud.broker.record.entries({ thing: first.thing, topic: `robots/${first.thing}/events` }).map((e) => dec.decode(e.payload));
	say('story', `the broker recorded robot-1's queued messages: ${received.join(' ')}`, 'each exactly once');
	if (count > 1) say('story', `${count} robots: every outbox is empty`);

	if (!values.keep) await shutdown(0);
	say('story', 'running; Ctrl-C stops');
} catch (e) {
	say('story', 'FAILED: ' + (e as Error).message);
	await shutdown(1);
}
