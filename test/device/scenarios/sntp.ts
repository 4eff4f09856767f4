/*
 * The SNTP clock adapter of the shipped firmware (platform/moddable/sntp.ts, started by
 * startRobot from the configured servers) against a responder on UDP 127.0.0.1:123 (sntp.js
 * always uses port 123). The first server does not resolve, so the robot moves on to the
 * second; the responder ignores the first request there, so sntp.js must repeat it. The time
 * it gives (SNTP_TEST_SECONDS) is one no other server would. On lin Time.set does nothing
 * (Date.now() is the host clock): the robot's log says what it got.
 */
import { createSocket } from 'node:dgram';
import { HOST, say, type Scenario } from '../suite';
import { SNTP_TEST_SECONDS } from './fixtures';

const scenario: Scenario = {
	name: 'sntp',
	async run(s) {
		let requests = 0;
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
			sock.send(reply, from.port, from.address);
		});
		try {
			s.clearStorage();
			await s.up();
			await s.provision();
			const d = s.power('sntp', { test: { sntp: ['sntp.invalid', HOST] } });
			const time = await d.waitFor('sntp.time', () => true, 30_000);
			await d.off();
			const failed = d.log.filter((l) => l.event === 'sntp.host_failed').map((l) => String(l.host));
			if (time.seconds !== SNTP_TEST_SECONDS) return `SNTP time ${String(time.seconds)}, expected ${SNTP_TEST_SECONDS}`;
			if (failed.join(',') !== 'sntp.invalid') return `hosts that failed first: ${JSON.stringify(failed)}, expected ["sntp.invalid"]`;
			if (requests < 2) return `the responder saw ${requests} request(s), expected a repeat after the unanswered first`;
			say(`SNTP: sntp.invalid failed, ${HOST} answered the repeated request (${requests} requests): ${JSON.stringify(time)}`);
			return undefined;
		} finally {
			sock.close();
		}
	},
};
export default scenario;
