/*
 * The test-control channel of the shipped firmware (issue #10; what test/device/main-testcmd.ts
 * did by hand): the lin build's TCP listener driven with the board target's own request/reply
 * code (hil-tests/targets/channel.ts, through testcmd-rig.ts): status, offline (the broker sees
 * the disconnect), online (connect), refused lines (status unchanged), a mission's report in
 * the table; then the jumpable wall clock (clock-jump in status), a second button press while
 * cleaning (busy), and a bad argument refused.
 */
import { Checks } from '../checks';
import { driveTestcmd } from '../testcmd-rig';
import { HOST, THING, metric, say, type Scenario } from '../suite';
import { missionBefore } from './mission';

const scenario: Scenario = {
	name: 'testcmd',
	async run(s) {
		const c = new Checks(s);
		try {
			await missionBefore(s, c);
			const d = s.power('testcmd');
			const listening = await d.waitFor('testcmd.listening');
			const why = await driveTestcmd({
				host: HOST,
				port: Number(listening.where),
				thing: THING,
				events: s.events,
				metric,
				missionStored: async (id) => (await c.onlyItem(id, 'finished')) ?? c.reportOnce(id),
			});
			if (why) return why;
			const jump = await d.command({ cmd: 'clock-jump', ms: -3_600_000 });
			const st = await d.status();
			if (!jump.ok || st.clockOffsetMs !== -3_600_000) return `clock-jump -1 h: status clockOffsetMs ${String(st.clockOffsetMs)}`;
			const m = await d.command({ cmd: 'mission' });
			const busy = await d.command({ cmd: 'mission' });
			if (typeof m.mission !== 'string' || busy.busy !== true) return `a second button press while cleaning answered ${JSON.stringify(busy)}, expected busy`;
			const bad = await (await d.channel()).invalid({ cmd: 'clock-jump', ms: 'soon' });
			if (bad.ok || bad.error.code !== 'bad') return `clock-jump "soon" answered ${JSON.stringify(bad)}, expected a refusal`;
			await d.off();
			say('clock-jump moved the wall clock (status clockOffsetMs -3600000); a second mission while cleaning: busy; "soon" refused');
			return undefined;
		} finally {
			c.close();
		}
	},
};
export default scenario;
