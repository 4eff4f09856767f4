/*
 * Firmware updates (issue #9) on the shipped firmware: tools/ota signs and publishes a job on
 * the local cloud; the robot downloads the image over the SDK's http into its file slot, checks
 * the signed manifest (native SHA-256 and ECDSA), activates, reboots (on lin the app ends with
 * `step reboot` and is powered on again over the same files), passes its self-test on probation
 * (link up, schedule synced) and reports SUCCEEDED; a job it must refuse leaves it running.
 *   ota           1.1.0 installed; 1.2.0 signed by another key REJECTED; 1.0.5 (not newer)
 *                 REJECTED; 2.0.0 of 512 KB installed.
 *   ota-resume    power lost with half the image in the slot; the next power-on resumes the
 *                 download with a Range request (ota.resume at the bytes it held) and installs it.
 *   ota-rollback  the new image cannot reach the cloud (broker down while it boots): its
 *                 self-test runs out, it rolls back; the old image reports FAILED once back.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeJobExecutionCommand } from '@aws-sdk/client-iot';
import { Checks } from '../checks';
import { THING, say, until, type Scenario, type Suite, type TestConfig } from '../suite';
import { mapGenerator } from './fixtures';

const FINAL = ['SUCCEEDED', 'FAILED', 'REJECTED'];

export async function publish(s: Suite, c: Checks, version: string, bytes: number, seed: number, keyPem = s.signingKeyPem): Promise<string> {
	const { devSigner, localThingArn, publishFirmware } = await import('../../../tools/ota/ota');
	const image = new Uint8Array(bytes);
	mapGenerator(seed).next(image); // its content does not matter: lin does not execute it
	const r = await publishFirmware({ iot: c.iot, s3: c.s3, image, version, signer: devSigner(keyPem), things: [THING], thingArn: localThingArn });
	say(`published firmware ${version} (${bytes} bytes) as job ${r.jobId}` + (keyPem === s.signingKeyPem ? '' : ', signed with another key'));
	return r.jobId;
}

async function jobStatus(c: Checks, jobId: string): Promise<string | undefined> {
	return (await c.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: THING }))).execution?.status;
}

/**
 * Powers the robot on, and on again after every reboot it asks for, until the job has its last
 * word; `onReboot(n)` acts while it is off. The number of reboots.
 */
export async function untilJobEnds(s: Suite, c: Checks, jobId: string, label: string, onReboot: (n: number) => Promise<void> = async () => {}, test?: TestConfig): Promise<number> {
	for (let reboots = 0; reboots <= 3;) {
		const d = s.power(`${label} boot ${reboots + 1}`, { verbose: true, ...(test ? { test } : {}) });
		await d.running;
		const why = await until(`a reboot or job ${jobId} ending`, async () => (d.rebooted ? 'reboot' : FINAL.includes(String(await jobStatus(c, jobId))) ? 'final' : undefined), 60_000);
		if (why === 'reboot') {
			await d.result;
			reboots++;
			await onReboot(reboots);
			continue;
		}
		// one more debug `instruments:` line, still powered
		await new Promise((r) => setTimeout(r, 1_100));
		await d.off();
		return reboots;
	}
	throw new Error('still rebooting after 3 reboots');
}

/** Waits for the job's last word while powered on; its reboots. */
async function expect(s: Suite, c: Checks, jobId: string, label: string, status: string, running: string, reboots: number, reason?: RegExp, onReboot?: (n: number) => Promise<void>): Promise<string | undefined> {
	const n = await untilJobEnds(s, c, jobId, label, onReboot);
	if (n !== reboots) return `${label}: the robot rebooted ${n} time(s), expected ${reboots}`;
	return c.jobEnded(jobId, status, running, reason);
}

function fresh(s: Suite): Promise<void> {
	s.clearStorage();
	return s.provision();
}

export const ota: Scenario = {
	name: 'ota',
	async run(s) {
		const c = new Checks(s);
		try {
			await fresh(s);
			(await s.up()).record.clear();
			const { createSigningIdentity } = await import('../../../tools/ota/ota');
			const other = await createSigningIdentity('not the robot firmware signing');
			return (
				(await expect(s, c, await publish(s, c, '1.1.0', 64 * 1024, 11), '1.1.0', 'SUCCEEDED', '1.1.0', 1)) ??
				(await expect(s, c, await publish(s, c, '1.2.0', 64 * 1024, 12, other.keyPem), 'bad signature', 'REJECTED', '1.1.0', 0, /signature/)) ??
				(await expect(s, c, await publish(s, c, '1.0.5', 64 * 1024, 13), 'downgrade', 'REJECTED', '1.1.0', 0, /not newer/)) ??
				(await expect(s, c, await publish(s, c, '2.0.0', 512 * 1024, 14), '2.0.0', 'SUCCEEDED', '2.0.0', 1))
			);
		} finally {
			c.close();
		}
	},
};

export const otaResume: Scenario = {
	name: 'ota-resume',
	async run(s) {
		const c = new Checks(s);
		try {
			await fresh(s);
			(await s.up()).record.clear();
			const size = 256 * 1024;
			const jobId = await publish(s, c, '1.1.0', size, 31);
			const d = s.power('cut', { verbose: true });
			const slotBytes = () => ['fw-a.bin', 'fw-b.bin'].map((f) => (existsSync(join(s.data, f)) ? statSync(join(s.data, f)).size : 0));
			const held = await d.until('half the image in a slot', () => slotBytes().find((n) => n >= size / 2 && n < size), 30_000);
			await d.off();
			say(`power lost at ${held} of ${size} bytes; the slot files hold ${slotBytes().join(' / ')} bytes`);
			const reboots = await untilJobEnds(s, c, jobId, 'resume');
			const resumed = s.runs.flatMap((r) => r.lines).find((l) => l.includes('"event":"ota.resume"'));
			if (!resumed) return 'the download after the power loss did not resume (no ota.resume)';
			say(`resumed: ${resumed}`);
			if (reboots !== 1) return `rebooted ${reboots} time(s), expected 1`;
			return c.jobEnded(jobId, 'SUCCEEDED', '1.1.0');
		} finally {
			c.close();
		}
	},
};

export const otaRollback: Scenario = {
	name: 'ota-rollback',
	async run(s) {
		const c = new Checks(s);
		try {
			await fresh(s);
			(await s.up()).record.clear();
			const jobId = await publish(s, c, '1.1.0', 64 * 1024, 41);
			// into the new image: no broker for its self-test; into the old one again: back
			return await expect(s, c, jobId, 'rollback', 'FAILED', '1.0.0', 2, /self-test|did not boot/, async (n) => (n === 1 ? s.down() : void (await s.up())));
		} finally {
			c.close();
		}
	},
};
