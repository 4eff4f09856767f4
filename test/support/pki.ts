// One dev PKI per test process, in a temp dir removed at exit:
//   robot-1, robot-2  valid device certificates from the dev CA
//   robot-3           expired (issued by the dev CA)
//   robot-x           from another CA, which the brokers do not trust
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, createDevPki, issueDevice, writeDevice, type Ca, type DevPki, type DeviceIdentity } from '../../cloud/local/dev-pki';

export interface TestPki extends DevPki {
	/** A valid, expired (robot-3) or other-CA (robot-x) device identity. */
	device(thing: 'robot-1' | 'robot-2' | 'robot-3' | 'robot-x'): DeviceIdentity;
	readonly otherCa: Ca;
}

const DAY_MS = 24 * 60 * 60 * 1000;
let cached: Promise<TestPki> | undefined;

export function testPki(): Promise<TestPki> {
	cached ??= make();
	return cached;
}

async function make(): Promise<TestPki> {
	const dir = await mkdtemp(join(tmpdir(), 'dev-pki-'));
	process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
	const pki = await createDevPki(dir, { things: ['robot-1', 'robot-2'] });
	const now = Date.now();
	const expired = await issueDevice(pki, 'robot-3', {
		notBefore: new Date(now - 30 * DAY_MS),
		notAfter: new Date(now - DAY_MS),
	});
	const otherCa = await createCa('Other CA');
	const foreign = await issueDevice(otherCa, 'robot-x');
	await writeDevice(dir, expired);
	await writeDevice(dir, foreign);
	const all = new Map(pki.things);
	all.set('robot-3', expired);
	all.set('robot-x', foreign);
	return {
		...pki,
		otherCa,
		device(thing) {
			const d = all.get(thing);
			if (!d) throw new RangeError('"thing" expected a test thing, got ' + thing);
			return d;
		},
	};
}
