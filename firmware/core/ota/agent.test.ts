/*
 * The agent end to end over fakes: a small in-memory Jobs service behind a fake
 * link, a memory slot pair with the bootloader's probation rule, and an HTTP server
 * honouring Range. A "reboot" is a new agent over the same storage and slots.
 */
import type { FirmwareInfo, FirmwareSlotPort, HttpPort, HttpRequest, StoragePort } from '../../ports';
import type { LinkState } from '../link/machine';
import type { Messenger } from '../link/requests';
import * as assert from '../testing/assert';
import { fakeTime, fixedRandom, memoryLog, memoryStorage, settle, type FakeTime } from '../testing/fakes';
import { utf8Decode, utf8Encode } from '../util/utf8';
import { OtaAgent } from './agent';
import { JobsClient } from './jobs';
import { portableCodeSigning } from '../../platform/portable/code-signing';
import { GOOD_DOC, MANIFEST_0_9_0, MANIFEST_OTHER_PRODUCT, MANIFEST_SIGNER_SPKI, SIGNATURE_0_9_0, SIGNATURE_OTHER_PRODUCT, TEST_SOURCES, testImage } from './testdata';

const THING = 'robot-1';
const P = '$aws/things/' + THING + '/jobs/';

interface Exec {
	jobId: string;
	status: string;
	versionNumber: number;
	document: unknown;
	statusDetails: Record<string, string>;
}

function matches(filter: string, topic: string): boolean {
	const f = filter.split('/');
	const t = topic.split('/');
	if (f.length !== t.length) return false;
	return f.every((x, i) => x === '+' || x === t[i]);
}

/** The Jobs device API in miniature, behind a Messenger. */
function jobsService() {
	const subs: { filter: string; handler: (m: { topic: string; payload: Uint8Array }) => void }[] = [];
	const execs: Exec[] = [];
	const history: Record<string, string[]> = {};
	const state = { value: 'connected' } as LinkState;
	const deliver = (topic: string, body: unknown) => {
		for (const s of subs) if (matches(s.filter, topic)) s.handler({ topic, payload: utf8Encode(JSON.stringify(body)) });
	};
	const next = () => execs.find((e) => e.status === 'IN_PROGRESS') ?? execs.find((e) => e.status === 'QUEUED');
	const setStatus = (e: Exec, status: string) => {
		e.status = status;
		e.versionNumber++;
		(history[e.jobId] ??= []).push(status);
	};
	let seq = 0;
	const link: Messenger = {
		get state() {
			return state;
		},
		subscribe(filter, handler) {
			subs.push({ filter, handler: handler as (m: { topic: string; payload: Uint8Array }) => void });
			return { ok: true, value: undefined };
		},
		publish(topic, payload) {
			const body = JSON.parse(utf8Decode(payload)!) as Record<string, unknown>;
			const clientToken = body.clientToken;
			void Promise.resolve().then(() => {
				if (topic === P + 'start-next') {
					const e = next();
					if (e && e.status === 'QUEUED') setStatus(e, 'IN_PROGRESS');
					if (e) e.statusDetails = body.statusDetails as Record<string, string>;
					deliver(topic + '/accepted', e ? { execution: { jobId: e.jobId, status: e.status, versionNumber: e.versionNumber, jobDocument: e.document }, clientToken } : { clientToken });
					return;
				}
				const jobId = topic.slice(P.length, -'/update'.length);
				const e = execs.find((x) => x.jobId === jobId);
				if (!e) return deliver(topic + '/rejected', { code: 'ResourceNotFound', clientToken });
				if (e.status !== 'IN_PROGRESS' && e.status !== 'QUEUED') return deliver(topic + '/rejected', { code: 'TerminalStateReached', clientToken });
				if (body.expectedVersion !== undefined && body.expectedVersion !== e.versionNumber) return deliver(topic + '/rejected', { code: 'VersionMismatch', clientToken, executionState: { status: e.status, versionNumber: e.versionNumber } });
				e.statusDetails = body.statusDetails as Record<string, string>;
				setStatus(e, body.status as string);
				deliver(topic + '/accepted', { executionState: { status: e.status, versionNumber: e.versionNumber }, clientToken });
			});
			return { ok: true, value: ++seq };
		},
		withdraw: () => false,
		listen: () => () => undefined,
	};
	return {
		link,
		execs,
		history,
		add(jobId: string, document: unknown) {
			execs.push({ jobId, status: 'QUEUED', versionNumber: 1, document, statusDetails: {} });
			history[jobId] = ['QUEUED'];
			deliver(P + 'notify-next', { execution: { jobId: next()!.jobId } });
		},
		cancel(jobId: string) {
			setStatus(
				execs.find((e) => e.jobId === jobId)!,
				'CANCELED',
			);
			const n = next();
			deliver(P + 'notify-next', n ? { execution: { jobId: n.jobId } } : {});
		},
	};
}

/** Two slots in memory; `boot()` is the bootloader at power-up. */
function memorySlots(factory: string) {
	const s = {
		images: { a: new Uint8Array(0), b: new Uint8Array(0) } as Record<'a' | 'b', Uint8Array>,
		versions: { a: factory } as Record<string, string | undefined>,
		boot: 'a' as 'a' | 'b',
		probation: false,
		tried: false,
		pending: undefined as { version: string; size: number } | undefined,
		bytes: 0,
		reboots: 0,
		maxChunk: 0,
	};
	const other = () => (s.boot === 'a' ? 'b' : 'a');
	const port: FirmwareSlotPort & { s: typeof s; powerUp(): void } = {
		s,
		powerUp() {
			if (s.probation && s.tried) Object.assign(s, { boot: other(), probation: false, tried: false });
			else if (s.probation) s.tried = true;
		},
		running: (): FirmwareInfo => ({ version: s.versions[s.boot]!, valid: !s.probation }),
		previous: () => (s.versions[other()] ? { version: s.versions[other()]!, valid: true } : undefined),
		begin(version, size) {
			s.images[other()] = new Uint8Array(size);
			s.versions[other()] = undefined;
			s.pending = { version, size };
			s.bytes = 0;
			return { ok: true };
		},
		written: () => (s.pending ? { ...s.pending, bytes: s.bytes } : undefined),
		write(offset, b) {
			if (offset !== s.bytes || offset + b.length > s.pending!.size) return { ok: false, error: 'bad write at ' + offset };
			s.maxChunk = Math.max(s.maxChunk, b.length);
			s.images[other()].set(b, offset);
			s.bytes += b.length;
			return { ok: true };
		},
		read: (offset, length) => s.images[other()].slice(offset, offset + length),
		activate() {
			s.versions[other()] = s.pending!.version;
			s.pending = undefined;
			Object.assign(s, { boot: other(), probation: true, tried: false });
			return { ok: true };
		},
		reboot: () => void s.reboots++,
		markValid: () => void Object.assign(s, { probation: false, tried: false }),
		rollback() {
			Object.assign(s, { boot: other(), probation: false, tried: false });
			return { ok: true };
		},
	};
	return port;
}

/** Serves `image` in 1000-byte chunks; `stopAt` cuts the connection there (never answering: power loss). */
function imageServer(image: Uint8Array) {
	const ranges: (string | undefined)[] = [];
	const server = { image, stopAt: -1, ranges, hang: false };
	const http: HttpPort = {
		async request(req: HttpRequest) {
			ranges.push(req.headers?.range);
			const from = req.headers?.range ? Number(/bytes=(\d+)-/.exec(req.headers.range)![1]) : 0;
			for (let at = from; at < server.image.length; at += 1000) {
				await Promise.resolve();
				if (at >= server.stopAt && server.stopAt >= 0) {
					server.stopAt = -1;
					return new Promise(() => {}); // the power went: nothing ever comes back
				}
				try {
					req.onData!(server.image.subarray(at, Math.min(at + 1000, server.image.length)));
				} catch (e) {
					return { ok: false, error: 'onData threw: ' + String(e) };
				}
			}
			return { ok: true, value: { status: from > 0 ? 206 : 200, headers: {}, body: new Uint8Array(0) } };
		},
	};
	return { server, http };
}

function rig(options: { healthy?: boolean; securityCounter?: number } = {}) {
	const svc = jobsService();
	const slots = memorySlots('1.0.0');
	const storage: StoragePort = memoryStorage();
	const { server, http } = imageServer(testImage());
	const log = memoryLog();
	let time: FakeTime = fakeTime();
	let agent: OtaAgent;
	const healthy = { value: options.healthy ?? true };
	const boot = () => {
		time = fakeTime();
		slots.powerUp();
		const jobs = new JobsClient(svc.link, { timers: time.timers, random: fixedRandom(0.5), log }, { thing: THING });
		agent = new OtaAgent(
			jobs,
			{ slot: slots, signing: portableCodeSigning, http, storage, timers: time.timers, log },
			{
				certificate: MANIFEST_SIGNER_SPKI,
				sources: TEST_SOURCES,
				...(options.securityCounter !== undefined ? { securityCounter: options.securityCounter } : {}),
				selfTest: { deadlineMs: 5000, check: () => healthy.value },
			},
		);
		agent.boot();
		agent.online();
	};
	boot();
	return {
		svc,
		slots,
		server,
		storage,
		log,
		healthy,
		boot,
		get agent() {
			return agent;
		},
		/** Let promises run, fire timers, and reboot whenever the slots asked for it. */
		async run(rounds = 6) {
			for (let i = 0; i < rounds; i++) {
				const reboots = slots.s.reboots;
				await settle(200);
				time.advance(1000);
				await settle(200);
				if (slots.s.reboots !== reboots) boot();
			}
		},
	};
}

describe('ota agent', () => {
	it('updates: QUEUED, IN_PROGRESS, SUCCEEDED, running the new version, in chunks', async () => {
		const r = rig();
		r.svc.add('job-1', GOOD_DOC);
		await r.run();
		const h = r.svc.history['job-1']!;
		assert.deepEqual([h[0], h[1], h[h.length - 1]], ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED']);
		assert.ok(h.length >= 4, 'progress updates: ' + JSON.stringify(h)); // start-next, then progress with expectedVersion
		assert.equal(r.agent.version, '1.1.0');
		assert.deepEqual(r.slots.running(), { version: '1.1.0', valid: true });
		assert.equal(r.slots.s.reboots, 1);
		assert.equal(r.slots.s.maxChunk, 1000);
		assert.equal(r.storage.read('ota.job'), undefined);
		assert.equal(r.agent.state.value, 'idle');
	});

	const failures: [string, unknown, (r: ReturnType<typeof rig>) => void, string, RegExp, { securityCounter?: number }?][] = [
		[
			'a corrupted image',
			GOOD_DOC,
			(r) =>
				(r.server.image = (() => {
					const i = testImage();
					i[5000] = i[5000]! ^ 1;
					return i;
				})()),
			'FAILED',
			/SHA-256 mismatch/,
		],
		// the review's attack: an old image, properly signed as 0.9.0, in a document that calls it newer
		['an old signed image the job document calls 2.0.1', { ...GOOD_DOC, manifest: MANIFEST_0_9_0, signature: SIGNATURE_0_9_0, version: '2.0.1' }, () => {}, 'REJECTED', /signed version 0\.9\.0 is not newer than running 1\.0\.0/],
		["a manifest whose signature is another manifest's", { ...GOOD_DOC, signature: SIGNATURE_0_9_0 }, () => {}, 'REJECTED', /manifest signature does not verify/],
		['a manifest edited after signing', { ...GOOD_DOC, manifest: GOOD_DOC.manifest.replace('"counter":1', '"counter":9') }, () => {}, 'REJECTED', /manifest signature does not verify/],
		['a manifest for another product', { ...GOOD_DOC, manifest: MANIFEST_OTHER_PRODUCT, signature: SIGNATURE_OTHER_PRODUCT }, () => {}, 'REJECTED', /product other-robot, this is robot-cleaner/],
		['a security counter below the installed one', GOOD_DOC, () => {}, 'REJECTED', /security counter 1 is below the installed 2/, { securityCounter: 2 }],
		['an https URL on another host', { ...GOOD_DOC, url: 'https://evil.example/firmware/robot.bin' }, () => {}, 'REJECTED', /not under a configured firmware source/],
		['an http URL outside the firmware prefix', { ...GOOD_DOC, url: 'http://127.0.0.1:4569/maps/robot.bin' }, () => {}, 'REJECTED', /not under a configured firmware source/],
		['a URL with user info', { ...GOOD_DOC, url: 'http://127.0.0.1@evil.example/firmware/robot.bin' }, () => {}, 'REJECTED', /url is not an http\(s\) URL/],
		[
			'a document without a manifest (the old form)',
			{
				operation: 'firmware-update',
				version: '1.1.0',
				size: 10000,
				sha256: 'c6bec1a98cf1c8f350c1ca9cd7ed598ae4e74e32ef95e8396cfd64129c34dc24',
				signature: GOOD_DOC.signature,
				url: GOOD_DOC.url,
			},
			() => {},
			'REJECTED',
			/manifest is not a string/,
		],
		['a failing self-test', GOOD_DOC, (r) => (r.healthy.value = false), 'FAILED', /self-test failed/],
	];
	for (const [what, doc, arrange, status, reason, options] of failures)
		it(what + ' ends ' + status + ' with the old firmware running', async () => {
			const r = rig(options);
			arrange(r);
			r.svc.add('job-1', doc);
			await r.run(10);
			const e = r.svc.execs[0]!;
			assert.equal(e.status, status);
			assert.ok(reason.test(e.statusDetails.reason ?? ''), e.statusDetails.reason);
			assert.equal(e.statusDetails.version, '1.0.0');
			assert.deepEqual(r.slots.running(), { version: '1.0.0', valid: true });
			assert.equal(r.agent.version, '1.0.0');
			// refused before a byte was fetched
			if (status === 'REJECTED') assert.deepEqual(r.server.ranges, []);
		});

	it('keeps the security counter of an image that passed its self-test as the installed one', async () => {
		const r = rig();
		r.svc.add('job-1', GOOD_DOC);
		await r.run();
		assert.equal(r.svc.execs[0]!.status, 'SUCCEEDED');
		assert.equal(utf8Decode(r.storage.read('ota.counter')!), '1');
	});

	it('resumes a download cut by a power loss with a Range request', async () => {
		const r = rig();
		r.server.stopAt = 6000;
		r.svc.add('job-1', GOOD_DOC);
		await r.run(1);
		assert.equal(r.slots.s.bytes, 6000);
		r.boot(); // power back
		await r.run();
		assert.deepEqual(r.server.ranges, [undefined, 'bytes=6000-']);
		assert.equal(r.svc.execs[0]!.status, 'SUCCEEDED');
		assert.equal(r.agent.version, '1.1.0');
	});

	it('stops the download when the job is cancelled', async () => {
		const r = rig();
		r.server.stopAt = 3000;
		r.svc.add('job-1', GOOD_DOC);
		await r.run(1);
		r.server.stopAt = -1;
		const before = r.slots.s.bytes;
		r.svc.cancel('job-1');
		await r.run();
		assert.equal(r.agent.state.value, 'idle');
		assert.equal(r.slots.s.bytes, before);
		assert.equal(r.storage.read('ota.job'), undefined);
		assert.equal(r.agent.version, '1.0.0');
		assert.ok(r.log.events().includes('ota.cancelled'));
	});

	describe('storage faults', () => {
		const faults = (r: ReturnType<typeof rig>) => (r.storage as ReturnType<typeof memoryStorage>).faults;

		it('a job the store cannot record is not downloaded; once it fits, the update goes through', async () => {
			const r = rig();
			faults(r).fail = (key) => (key.startsWith('ota.job') ? 'full' : undefined);
			r.svc.add('job-1', GOOD_DOC);
			await r.run(3);
			assert.deepEqual(r.server.ranges, [], 'no byte fetched');
			assert.ok(r.log.events().includes('ota.record_unsaved'));
			assert.ok(r.log.events().includes('ota.download_stalled'));
			assert.equal(r.agent.version, '1.0.0');
			faults(r).fail = undefined;
			await r.run(30);
			assert.equal(r.svc.execs[0]!.status, 'SUCCEEDED');
			assert.equal(r.agent.version, '1.1.0');
		});

		it('an install the store cannot record is not activated: FAILED, the old image runs', async () => {
			const r = rig();
			r.svc.add('job-1', GOOD_DOC);
			// the download record fits; the activated record (written after verification) does not
			let recordWrites = 0;
			faults(r).fail = (key) => (key === 'ota.job.new' && ++recordWrites > 1 ? 'full' : undefined);
			await r.run(10);
			const e = r.svc.execs[0]!;
			assert.equal(e.status, 'FAILED', JSON.stringify(r.log.lines));
			assert.ok(/storage/.test(e.statusDetails.reason ?? ''), e.statusDetails.reason);
			assert.equal(r.slots.s.reboots, 0);
			assert.deepEqual(r.slots.running(), { version: '1.0.0', valid: true });
		});

		it('a security counter the store refuses: the image stays valid, the refusal is logged', async () => {
			const r = rig();
			faults(r).fail = (key) => (key.startsWith('ota.counter') ? 'full' : undefined);
			r.svc.add('job-1', GOOD_DOC);
			await r.run();
			assert.equal(r.svc.execs[0]!.status, 'SUCCEEDED');
			assert.ok(r.log.events().includes('ota.counter_unsaved'));
		});
	});
});
