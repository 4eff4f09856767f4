// The host side every device scenario shares: the local cloud (in memory, on a fixed MQTT
// port), the robot's Preference file as provisioning writes it, and `power()`: one power-on
// of the shipped entry (firmware/main.ts, test/device/manifest.json) on the real Moddable
// runtime with a scenario's test configuration, driven over its test-control channel and
// read through its structured log. A scenario (scenarios/<name>.ts) uses these and says
// whether it held; run.ts only orchestrates.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectChannel, type LineChannel } from '../../hil-tests/targets/channel';
import type { TestCommand, TestReply } from '../../firmware/core/testcmd/protocol';
import type { DeviceCredentials } from '../../tools/provision/board';
import { runHeadless, type HeadlessResult } from './headless';
import { deviceCreation } from './creation';

export const THING = 'robot-dev-1';
/** An operator's certificate (the fleet policy: cloud/local/thing-policy.ts), for tools that ask the robot (tools/logs.ts). */
export const OPERATOR = 'robot-ops';
export const HOST = '127.0.0.1';
/** DEVICE_M32=1: app and simulator built 32-bit (headless.ts --m32), the ESP32's slot size, in their own build directory. */
const M32 = process.env.DEVICE_M32 === '1';
/** The build directory under the work directory: 32-bit builds keep their own. */
export const BUILD_OUT = M32 ? 'out-m32' : 'out';
/** DEVICE_CREATION=esp32[,chunk=N,heap=N,stack=N]: the board's creation sizes with growth off, or undefined. */
const BOARD_SIZES = deviceCreation(join(dirname(fileURLToPath(import.meta.url)), '../..'));

type Cloud = Awaited<ReturnType<typeof import('../../cloud/local/index').startLocalCloud>>;
type Broker = Cloud['broker'];
export type CloudEvent = { readonly event: string; readonly [k: string]: unknown };
/** One structured log line of the robot: {"t","level","event",...fields}. */
export type LogLine = { readonly t: number; readonly level: string; readonly event: string; readonly [k: string]: unknown };

/** The test configuration every power-on starts from (firmware/main.ts `config.test`): short timeouts, a fast mission clock. */
export const BASE_TEST = Object.freeze({
	link: { keepAlive: 30, connectTimeoutMs: 8_000, backoff: { baseMs: 500, capMs: 2_000 } },
	shadowTimeoutMs: 5_000,
	// no public SNTP server from a test (the lin clock is the host's, known at once)
	sntp: [] as string[],
	// a 60-minute mission in about 3 s; seeded, the wheel never stuck: every mission `finished`
	robot: { retryMs: 1_000, mapBytes: 0, missions: { msPerMin: 50, seed: 0x5eed, stuckRate: 0 } },
	registration: { backoff: { baseMs: 300, capMs: 1_500 }, maxAttempts: 30 },
});
export type TestConfig = { -readonly [K in keyof typeof BASE_TEST]?: unknown } & Record<string, unknown>;

export interface PowerOptions {
	/** Overrides of BASE_TEST (shallow per section). */
	readonly test?: TestConfig;
	/** Print the build log and keep every line (memory figures need a debug build's instruments lines). */
	readonly verbose?: boolean;
	readonly timeoutS?: number;
}

export interface Provisioning {
	/** The identity in Preference "cred": the robot's own (default), another, or none. */
	readonly credentials?: DeviceCredentials | null;
	/** The endpoint record: the broker (default), another "host:port", or none. */
	readonly endpoint?: string | null;
	readonly server?: string;
	/** The registration URL record, when the robot is to register on first boot. */
	readonly register?: string;
}

export interface RunRecord {
	readonly label: string;
	readonly result: HeadlessResult;
	readonly lines: readonly string[];
}

export class Device {
	readonly lines: string[] = [];
	readonly log: LogLine[] = [];
	readonly result: Promise<HeadlessResult>;
	rebooted = false;
	#waiters = new Set<() => void>();
	#ended = false;
	#end!: (v: 'PASS' | 'FAIL') => void;
	#channel: Promise<{ channel: LineChannel; close(): Promise<void> }> | undefined;
	#started!: () => void;
	/** The app runs (its build is done): waits count from here, not across the build. */
	readonly running = new Promise<void>((r) => (this.#started = r));

	constructor(o: { app: string; out: string; defines: string[]; verbose: boolean; timeoutS: number; echo: boolean; m32?: boolean }) {
		const end = new Promise<'PASS' | 'FAIL'>((r) => (this.#end = r));
		this.result = runHeadless({ app: o.app, out: o.out, defines: o.defines, verbose: o.verbose, timeoutS: o.timeoutS, end, m32: o.m32 === true }, (l) => this.#line(l, o.echo)).finally(() => {
			this.#ended = true;
			this.#started();
			this.#wake();
		});
	}

	#line(l: string, echo: boolean): void {
		this.lines.push(l);
		if (l.startsWith('run-headless: running')) this.#started();
		if (echo) console.log('  | ' + l);
		if (l.startsWith('{"t":')) {
			try {
				this.log.push(JSON.parse(l) as LogLine);
			} catch {
				/* a line cut by the run's end: not a log line */
			}
		} else if (l.startsWith('step ') && l.includes('"event":"reboot"')) {
			// the firmware asked to restart (an update, a rollback): on lin that is the end of this power-on
			this.rebooted = true;
			this.#end('PASS');
		}
		this.#wake();
	}

	#wake(): void {
		for (const w of [...this.#waiters]) w();
	}

	/** Resolves with the probe's first defined answer, re-asked at every line; fails after `timeoutMs` or when the run ended. */
	async until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
		await this.running;
		return new Promise((res, rej) => {
			const check = () => {
				const v = probe();
				if (v !== undefined) return done(() => res(v));
				// a build that failed, an app that aborted: nothing more will come
				if (this.#ended) done(() => rej(new Error(`the run ended before ${what}: ${this.lines.filter((l) => /build failed|XS abort|exited/.test(l)).join('; ') || 'no more lines'}`)));
			};
			const timer = setTimeout(() => done(() => rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
			const done = (f: () => void) => {
				clearTimeout(timer);
				this.#waiters.delete(check);
				f();
			};
			this.#waiters.add(check);
			check();
		});
	}

	/** The first log line of `event` (matching `match`), from the start of this power-on. */
	waitFor(event: string, match: (l: LogLine) => boolean = () => true, timeoutMs = 20_000): Promise<LogLine> {
		return this.until(`log event ${event}`, () => this.log.find((l) => l.event === event && match(l)), timeoutMs);
	}

	count(event: string): number {
		return this.log.filter((l) => l.event === event).length;
	}

	/** The test-control channel (connected once the robot listens). */
	channel(): Promise<LineChannel> {
		this.#channel ??= this.waitFor('testcmd.listening').then((l) => connectChannel(HOST, Number(l.where)));
		return this.#channel.then((c) => c.channel);
	}

	async command(c: TestCommand): Promise<TestReply & { ok: true }> {
		const r = await (await this.channel()).command(c);
		if (!r.ok) throw new Error(`${c.cmd} refused: ${JSON.stringify(r.error)}`);
		return r;
	}

	async status(): Promise<Record<string, unknown>> {
		return (await this.command({ cmd: 'status' })).status as Record<string, unknown>;
	}

	/** Asks `status` until `accept` holds. */
	async untilStatus(what: string, accept: (s: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
		const end = Date.now() + timeoutMs;
		for (;;) {
			const s = await this.status();
			if (accept(s)) return s;
			if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last status ${JSON.stringify(s)}`);
			await new Promise((r) => setTimeout(r, 100));
		}
	}

	/** Power off: the run ends now (Preference writes are synchronous, nothing is flushed: a power loss). */
	async off(): Promise<HeadlessResult> {
		const c = this.#channel;
		this.#channel = undefined;
		if (c)
			await c.then(
				(x) => x.close(),
				() => undefined,
			);
		this.#end('PASS');
		return this.result;
	}
}

export class Suite {
	readonly runs: RunRecord[] = [];
	readonly data: string;
	readonly app: string;
	readonly deviceCredentials: DeviceCredentials;
	#current: Device | undefined;

	private constructor(
		readonly root: string,
		readonly work: string,
		readonly port: number,
		readonly cloud: Cloud,
		readonly echo: boolean,
		/** The local cloud's log events so far (grows while the suite runs). */
		readonly events: CloudEvent[],
	) {
		this.data = join(work, 'data');
		this.app = join(work, 'app');
		const device = cloud.pki.things.get(THING)!;
		this.deviceCredentials = { ca: cloud.pki.ca.certDer, cert: device.certDer, key: device.keyDer };
	}

	static async start(o: { root: string; work: string; port: number; echo: boolean; selfTestMs: number }): Promise<Suite> {
		const { startLocalCloud } = await import('../../cloud/local/index');
		mkdirSync(o.work, { recursive: true });
		const events: CloudEvent[] = [];
		const cloud = await startLocalCloud({
			dataDir: o.work,
			things: [THING],
			operators: [OPERATOR],
			inMemory: true,
			host: HOST,
			mqttPort: o.port,
			log: (e) => void events.push(e as CloudEvent),
		});
		const s = new Suite(o.root, o.work, o.port, cloud, o.echo, events);
		mkdirSync(s.data, { recursive: true });
		mkdirSync(join(s.app, 'firmware'), { recursive: true });
		rmSync(join(s.app, 'credentials'), { recursive: true, force: true }); // where resources were once generated
		const { createSigningIdentity } = await import('../../tools/ota/ota');
		const signing = { key: join(o.work, 'pki/code-signing-key.pem'), cert: join(o.work, 'pki/code-signing.der') };
		if (!existsSync(signing.key) || !existsSync(signing.cert)) {
			const id = await createSigningIdentity();
			writeFileSync(signing.cert, id.certificateDer);
			writeFileSync(signing.key, id.keyPem, { mode: 0o600 });
		}
		writeIfChanged(join(s.app, 'firmware', 'code-signing.der'), readFileSync(signing.cert));
		writeIfChanged(
			join(s.app, 'manifest.json'),
			JSON.stringify(
				{
					include: [join(o.root, 'test/device/manifest.json')],
					// the app's private Preference and slot files; the test build's self-test deadline (60 s in production), images only from the local S3
					config: { file: { root: s.data + '/' }, firmware: { selfTestMs: o.selfTestMs, sources: [cloud.endpoints.s3 + '/'] } },
					// public: the code-signing certificate the firmware checks updates against
					resources: { '*': [join(s.app, 'firmware', '*')] },
					// DEVICE_CREATION=esp32[,...]: the board's creation sizes with growth off (test/device/creation.ts)
					...(BOARD_SIZES ? { creation: BOARD_SIZES.creation } : {}),
				},
				null,
				'\t',
			) + '\n',
		);
		return s;
	}

	/** The code-signing key the test build's certificate belongs to (PEM). */
	get signingKeyPem(): string {
		return readFileSync(join(this.work, 'pki/code-signing-key.pem'), 'utf8');
	}

	broker(): Broker | undefined {
		try {
			return this.cloud.broker;
		} catch {
			return undefined; // stopped
		}
	}

	async up(): Promise<Broker> {
		await this.cloud.startBroker(); // no-op when it runs
		return this.cloud.broker;
	}

	down(): Promise<void> {
		return this.cloud.stopBroker();
	}

	/** Payloads the broker recorded from the robot on `topic`. */
	payloads(topic: string, thing = THING): string[] {
		return (this.broker()?.record.entries({ thing, topic }) ?? []).map((e) => Buffer.from(e.payload).toString());
	}

	/** The robot's Preference file and firmware slots wiped: a new board. */
	clearStorage(): void {
		for (const f of ['modpreferences.json', 'fw-boot.json', 'fw-boot.json.tmp', 'fw-a.bin', 'fw-b.bin']) rmSync(join(this.data, f), { force: true });
	}

	/** The app's Preference domain `domain` as it is on disk (what survives a power loss). */
	stored(domain = 'robot'): Record<string, string> {
		const file = join(this.data, 'modpreferences.json');
		if (!existsSync(file)) return {};
		const all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, { buffer: string } | string>>;
		// lin Preference keeps an ArrayBuffer as { buffer: "b,b,b,..." }
		return Object.fromEntries(Object.entries(all[domain] ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : Buffer.from(v.buffer.split(',').map(Number)).toString()]));
	}

	/** Writes the robot's records into its Preference file as provisioning does (tools/provision/board.ts). */
	async provision(p: Provisioning = {}): Promise<void> {
		const { linPreferences, mergeLinPreferences, networkPreferences } = await import('../../tools/provision/board');
		const file = join(this.data, 'modpreferences.json');
		const prefs = {
			...(p.credentials === null ? {} : linPreferences(p.credentials ?? this.deviceCredentials)),
			...networkPreferences({
				...(p.endpoint === null ? {} : { endpoint: p.endpoint ?? `${HOST}:${this.port}`, server: p.server ?? 'localhost' }),
				...(p.register ? { register: p.register } : {}),
			}),
		};
		// a record left out is removed: the robot must not find one from an earlier run
		if (existsSync(file)) {
			const all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
			for (const d of ['cred', 'net']) delete all[d];
			writeFileSync(file, JSON.stringify(all));
		}
		await mergeLinPreferences(file, prefs);
	}

	/** One power-on of firmware/main.ts with `o.test` over BASE_TEST. Provision first. */
	power(label: string, o: PowerOptions = {}): Device {
		if (this.#current) throw new Error('power(): the previous power-on has not ended (off() it first)');
		const test: Record<string, unknown> = { ...BASE_TEST };
		for (const [k, v] of Object.entries(o.test ?? {})) test[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof test[k] === 'object' ? { ...(test[k] as object), ...v } : v;
		const d = new Device({
			app: this.app,
			out: join(this.work, BUILD_OUT),
			m32: M32,
			defines: ['test=' + JSON.stringify(test)],
			verbose: o.verbose === true,
			timeoutS: o.timeoutS ?? 120,
			echo: this.echo,
		});
		this.#current = d;
		void d.result.then((result) => {
			this.runs.push({ label, result, lines: d.lines });
			if (this.#current === d) this.#current = undefined;
		});
		return d;
	}

	/** Ends whatever power-on is still running (a scenario that failed half-way). */
	async offAll(): Promise<void> {
		await this.#current?.off();
	}

	async close(): Promise<void> {
		await this.offAll();
		await this.cloud.close();
	}
}

function writeIfChanged(file: string, data: Uint8Array | string): void {
	const bytes = Buffer.from(data);
	if (existsSync(file) && Buffer.compare(readFileSync(file), bytes) === 0) return; // keeps the build incremental
	writeFileSync(file, bytes);
}

export function metric(fields: Record<string, unknown>): void {
	console.log('device-metric ' + JSON.stringify(fields));
}

export function say(line: string): void {
	console.log('device: ' + line);
}

/** One device scenario: its host-side setup and checks, around one or more power-ons of the shipped entry. */
export interface Scenario {
	readonly name: string;
	/** undefined when it held; else why not. `{ skip }`: it cannot run on this machine (never under CI=true). */
	run(s: Suite): Promise<string | undefined | { readonly skip: string }>;
}

/** Polls `probe` until it answers (host-side state: the cloud's tables, files). */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		const v = await probe();
		if (v !== undefined) return v;
		if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}
