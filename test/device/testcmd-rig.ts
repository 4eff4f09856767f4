/*
 * The runner's side of device scenario `testcmd` (issue #10): the lin build listens for
 * test-control lines on TCP; this drives it with the board target's request/reply code
 * (hil-tests/targets/channel.ts, the same framing and id matching as over a serial port)
 * and checks each command's effect where it shows: the broker (disconnect, connect),
 * the missions table (a report), the robot's own status. Undefined when all held; else why.
 */
import { connectChannel, type LineChannel } from '../../hil-tests/targets/channel';
import type { TestCommand, TestReply } from '../../firmware/core/testcmd/protocol';

export interface TestcmdRig {
	readonly host: string;
	readonly port: number;
	readonly thing: string;
	/** The local cloud's log events so far (grows while this runs). */
	readonly events: readonly { readonly event: string; readonly [k: string]: unknown }[];
	/** undefined once the report of `missionId` is in the missions table; else why not. */
	missionStored(missionId: string): Promise<string | undefined>;
	metric(fields: Record<string, string | number | boolean>): void;
}

type Status = Record<string, unknown>;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		const v = await probe();
		if (v !== undefined) return v;
		if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

export async function driveTestcmd(o: TestcmdRig): Promise<string | undefined> {
	const { channel, close } = await connectChannel(o.host, o.port);
	const rtts: number[] = [];
	const ask = async (command: TestCommand): Promise<TestReply & { ok: true }> => {
		const t0 = Date.now();
		const r = await channel.command(command);
		rtts.push(Date.now() - t0);
		if (!r.ok) throw new Error(`${command.cmd} refused: ${JSON.stringify(r.error)}`);
		return r;
	};
	const status = async (): Promise<Status> => (await ask({ cmd: 'status' })).status as Status;
	const brokerSaw = (event: string, since: number) => o.events.slice(since).find((e) => e.event === event && e.thing === o.thing);
	try {
		const first = await until('link connected (status)', async () => {
			const s = await status();
			return s.link === 'connected' ? s : undefined;
		});
		console.log(`device: testcmd status: ${JSON.stringify(first)}`);
		if (first.thing !== o.thing) return `status names thing ${String(first.thing)}, expected ${o.thing}`;

		let since = o.events.length;
		await ask({ cmd: 'offline' });
		await until('broker.disconnect after offline', () => brokerSaw('broker.disconnect', since));
		const off = await status();
		if (off.radio !== 'off' || off.link !== 'offline') return `after offline the robot says radio ${String(off.radio)}, link ${String(off.link)}; expected off, offline`;
		console.log('device: testcmd offline: the broker saw the client disconnect; status radio off, link offline');

		since = o.events.length;
		await ask({ cmd: 'online' });
		await until('broker.connect after online', () => brokerSaw('broker.connect', since));
		const on = await until('link connected after online', async () => {
			const s = await status();
			return s.link === 'connected' ? s : undefined;
		});
		if (on.radio !== 'on') return `after online the robot says radio ${String(on.radio)}`;
		console.log('device: testcmd online: the broker saw the client connect; status link connected');

		const refused = await refusals(channel);
		if (refused) return refused;
		const after = await status();
		for (const k of ['radio', 'link', 'mission', 'outbox', 'schedule', 'pendingReports'])
			if (JSON.stringify(after[k]) !== JSON.stringify(on[k])) return `a refused line changed status.${k}: ${JSON.stringify(on[k])} -> ${JSON.stringify(after[k])}`;
		console.log('device: testcmd refused an unknown command (with its id) and a line that is not JSON (reply null); status unchanged');

		const started = await ask({ cmd: 'mission' });
		if (typeof started.mission !== 'string') return `mission answered ${JSON.stringify(started)}, expected a mission id`;
		const stored = await o.missionStored(started.mission);
		if (stored) return stored;
		console.log(`device: testcmd mission ${started.mission}: its report is in the missions table`);
		o.metric({ name: 'testcmd.rtt', requests: rtts.length, minMs: Math.min(...rtts), maxMs: Math.max(...rtts), meanMs: Math.round(rtts.reduce((a, b) => a + b, 0) / rtts.length) });
		return undefined;
	} catch (e) {
		return String((e as Error).message ?? e);
	} finally {
		// the device passes when the rig hangs up
		await close();
	}
}

/** undefined when both bad lines were refused as the protocol says. */
async function refusals(channel: LineChannel): Promise<string | undefined> {
	const r = await channel.invalid({ cmd: 'reboot' });
	if (r.ok || r.error.code !== 'bad' || !/"cmd" expected one of/.test(r.error.reason)) return `{"cmd":"reboot"} answered ${JSON.stringify(r)}, expected a refusal (bad, "cmd" expected one of ...)`;
	const since = channel.lines.length;
	channel.writeLine('status please');
	const l = await channel.waitFor('the refusal of a line that is not JSON', (x) => x.json?.reply === null, { since, timeoutMs: 10_000 });
	const e = l.json as unknown as TestReply;
	if (e.ok || e.error.code !== 'bad' || e.error.reason !== 'not JSON') return `"status please" answered ${l.text}, expected a refusal (bad, not JSON)`;
	return undefined;
}
