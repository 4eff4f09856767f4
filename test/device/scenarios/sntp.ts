/*
 * The SNTP clock adapter of the shipped firmware (platform/moddable/sntp.ts, started by
 * startRobot from the configured servers) against a responder on UDP 127.0.0.1:123 (sntp.js
 * always uses port 123). The first server does not resolve, so the robot moves on to the
 * second; the responder ignores the first request there, so sntp.js must repeat it. The time
 * it gives (SNTP_TEST_SECONDS, in 2030) is one no other server would, years from the host's
 * clock. Proof that the clock was set from the reply: the robot's own wall-clock reading
 * (status `clock`, the clock port the link and missions read) after the reply is the responder's
 * time plus the time since, within TOLERANCE_MS (the reply carries whole seconds). On lin
 * Time.set does nothing; the clock port keeps the difference (system.ts setWallClock).
 */
import { createSocket } from 'node:dgram';
import { HOST, say, type Scenario } from '../suite';
import { SNTP_TEST_SECONDS } from './fixtures';

/** Whole seconds in the reply, the status round trip and the trace's delay: well under the years the check tells apart. */
const TOLERANCE_MS = 3_000;

const scenario: Scenario = {
	name: 'sntp',
	async run(s) {
		let requests = 0;
		let answeredAt: number | undefined;
		const sock = createSocket('udp4');
		const bound = await new Promise<string | undefined>((resolve) => {
			sock.once('error', (e) => resolve(`cannot bind UDP ${HOST}:123 for the SNTP responder (${(e as NodeJS.ErrnoException).code ?? e.message})`));
			sock.bind(123, HOST, () => resolve(undefined));
		});
		if (bound) {
			sock.close();
			return { skip: bound };
		}
		sock.on('message', (msg, from) => {
			// a client request: 48 bytes, mode 3 (RFC 4330 section 5); the first goes unanswered
			if (msg.length < 48 || (msg[0]! & 7) !== 3 || ++requests === 1) return;
			const reply = Buffer.alloc(48);
			reply[0] = (0 << 6) | (4 << 3) | 4; // LI 0, VN 4, mode 4 (server)
			reply[1] = 1; // stratum 1 (0 would be a kiss-o'-death)
			msg.copy(reply, 24, 40, 48); // originate timestamp = the client's transmit timestamp
			const ntpSeconds = SNTP_TEST_SECONDS + 2_208_988_800; // NTP era 0 counts from 1900
			reply.writeUInt32BE(ntpSeconds, 32);
			reply.writeUInt32BE(ntpSeconds, 40);
			answeredAt ??= Date.now();
			sock.send(reply, from.port, from.address);
		});
		try {
			s.clearStorage();
			await s.up();
			await s.provision();
			const d = s.power('sntp', { test: { sntp: ['sntp.invalid', HOST] } });
			const time = await d.waitFor('sntp.time', () => true, 30_000);
			const status = await d.status();
			const readAt = Date.now();
			await d.off();
			const failed = d.log.filter((l) => l.event === 'sntp.host_failed').map((l) => String(l.host));
			if (time.seconds !== SNTP_TEST_SECONDS) return `SNTP time ${String(time.seconds)}, expected ${SNTP_TEST_SECONDS}`;
			if (failed.join(',') !== 'sntp.invalid') return `hosts that failed first: ${JSON.stringify(failed)}, expected ["sntp.invalid"]`;
			if (requests < 2) return `the responder saw ${requests} request(s), expected a repeat after the unanswered first`;
			if (answeredAt === undefined) return 'the responder never answered';
			if (Math.abs(SNTP_TEST_SECONDS * 1000 - readAt) < 365 * 86_400_000) return `the responder's time ${SNTP_TEST_SECONDS} is within a year of the host's: the check could not tell them apart`;
			// the robot's own clock after the reply: the reply's time plus what passed since it was sent (no test clock jump)
			const expected = SNTP_TEST_SECONDS * 1000 + (readAt - answeredAt);
			const clock = status.clock;
			if (typeof clock !== 'number') return `the robot's clock after the reply reads ${JSON.stringify(clock)}, expected about ${new Date(expected).toISOString()}`;
			if (status.clockOffsetMs !== 0) return `the robot's clock carries a test jump of ${String(status.clockOffsetMs)} ms`;
			const off = clock - expected;
			if (Math.abs(off) > TOLERANCE_MS)
				return `the robot's clock after the reply reads ${new Date(clock).toISOString()}, ${off} ms from the reply's time ${new Date(expected).toISOString()} (tolerance ${TOLERANCE_MS} ms; the host's clock is ${new Date(readAt).toISOString()})`;
			say(
				`SNTP: sntp.invalid failed, ${HOST} answered the repeated request (${requests} requests): ${JSON.stringify(time)}; the robot's clock then read ${new Date(clock).toISOString()}, ${off} ms from the reply's time (host ${new Date(readAt).toISOString()})`,
			);
			return undefined;
		} finally {
			sock.close();
		}
	},
};
export default scenario;
