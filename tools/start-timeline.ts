/*
 * `npm start`'s timeline: one line per thing that happened, with the seconds since start,
 * who did it and a grey detail; progress as bars. `narrate` hangs the lines on a robot's
 * link, schedule, missions, maps and firmware updates, the same for the local story and
 * for a robot on AWS.
 */
import type { Robot } from '../firmware/core/robot/robot';

export type Say = (who: string, what: string, detail?: string) => void;

export function timeline(tty: boolean, out: (line: string) => void = (l) => console.log(l)): Say {
	const t0 = performance.now();
	const grey = tty ? (s: string) => `\x1b[90m${s}\x1b[0m` : (s: string) => s;
	return (who, what, detail = '') => {
		const t = ((performance.now() - t0) / 1000).toFixed(2).padStart(6);
		out(`${grey(t + 's')}  ${who.padEnd(9)} ${what}${detail ? '  ' + grey(detail) : ''}`);
	};
}

export function bar(fraction: number, width = 24): string {
	const n = Math.round(Math.max(0, Math.min(1, fraction)) * width);
	return '[' + '#'.repeat(n) + '.'.repeat(width - n) + ']';
}

const bytes = (n: number) => n.toLocaleString('en-US');

/** Tells what `robot` does as it happens. Call once per boot (a reboot makes a new Robot). */
export function narrate(robot: Robot, say: Say): void {
	const thing = robot.thing;
	robot.link.listen({
		state: (s) => say(thing, 'link ' + s.value, s.value === 'connected' ? `session present: ${s.sessionPresent ? 'yes' : 'no'}` : s.value === 'waiting' ? `attempt ${s.attempt}: ${s.reason}` : ''),
		delivered: (seq, topic) => topic.includes('/report') && say(thing, 'report acknowledged by the broker (PUBACK)', `outbox #${seq}`),
	});
	let lastState = '';
	robot.schedule.listen((s) => {
		if (s.value === lastState) return;
		lastState = s.value;
		if (s.value === 'synced') say(thing, 'schedule in sync with its shadow', `${s.owned.value.entries.length} entries, tz ${s.owned.value.tz}`);
	});
	let lastBar = -1;
	robot.missions.listen((s, effects) => {
		for (const fx of effects) {
			if (fx.type !== 'event') continue;
			if (fx.name === 'started') say(thing, `mission ${fx.mission} started`, `trigger ${fx.data.trigger}, battery ${fx.data.battery}%`);
			if (fx.name === 'progress' && s.value === 'running') {
				const f = Number(fx.data.areaM2) / 65;
				const step = Math.floor(f * 4);
				if (step !== lastBar) {
					lastBar = step;
					say(thing, `cleaning ${bar(f)} ${fx.data.areaM2} m²`, `battery ${fx.data.battery}%`);
				}
			}
			if (fx.name === 'error') say(thing, `mission error ${fx.data.code}`, fx.data.fatal ? 'fatal: heading home' : 'cleared, cleaning on');
			if (fx.name === 'docked') {
				lastBar = -1;
				say(thing, `mission ${fx.mission} ${fx.data.outcome}, docked`, `${fx.data.areaM2} m² in ${Math.round(Number(fx.data.durationS) / 60)} min`);
			}
		}
	});
	robot.commands?.listen((a) => say(thing, `command ${a.executionId.slice(0, 8)}: ${a.status} ${a.reasonCode}`, a.reasonDescription + (a.missionId ? ` (mission ${a.missionId})` : '')));
	let quarter = 0;
	robot.maps?.listen({
		started(m, n) {
			quarter = 0;
			say(thing, `map of ${m}: encrypting on the robot (Encryption SDK, AES-256-GCM) into a presigned S3 PUT`, `${bytes(n)} bytes, occupancy grid`);
		},
		progress(_m, sent, total) {
			const q = Math.floor((sent / total) * 4);
			if (q <= quarter) return;
			quarter = q;
			say(thing, `map upload ${bar(sent / total)} ${q * 25}%`, `${bytes(sent)} of ${bytes(total)} bytes`);
		},
		uploaded: (m, n, ms) => say(thing, `map of ${m} uploaded`, `${bytes(n)} bytes in ${Math.round(ms)} ms`),
		failed: (m, e, retry) => say(thing, `map of ${m} ${retry ? 'waits for the network' : 'given up'}`, e.code),
	});
	const ota = robot.ota;
	if (!ota) return;
	let shown = -1;
	let last = '';
	ota.agent.onState((s) => {
		if (s.value === 'downloading') {
			const f = s.bytes / s.job.firmware.size;
			const q = Math.floor(f * 4);
			if (q !== shown) {
				shown = q;
				say(thing, `firmware ${s.job.firmware.version} ${bar(f)} ${q * 25}%`, `${bytes(s.bytes)} of ${bytes(s.job.firmware.size)} bytes into the inactive slot`);
			}
		}
		if (s.value === last) return;
		last = s.value;
		if (s.value === 'verifying') say(thing, `firmware ${s.job.firmware.version} downloaded: checking SHA-256 and the ECDSA P-256 signature`);
		if (s.value === 'rebooting') say(thing, `firmware ${s.job.firmware.version} verified and activated; rebooting into it`);
		if (s.value === 'testing') say(thing, `running ${s.job.firmware.version} on probation: self-test (link up, schedule synced)`);
		if (s.value === 'rollingBack') say(thing, `self-test failed, rolling back to ${s.job.from}`, s.reason);
		if (s.value === 'reporting') say(thing, `firmware job ${s.jobId}: ${s.status}`, JSON.stringify(s.details));
	});
}
