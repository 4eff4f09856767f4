/*
 * Round trips from TCP connect to the schedule document on the Moddable runtime (issue #20), as
 * the host figures count them (test/support/proxy.ts: one flight of client data is one round
 * trip; the TCP handshake is not counted): the robot connects through a counting proxy with
 * 20 ms each way, so a client flight cannot share a millisecond with the one before it. The
 * document answers the shadow GET; the broker records the GET's arrival (`at`), so the round
 * trips to the document are the client flights that began by then: the reply to the last of
 * them is the document. A full TLS 1.2 handshake: ClientHello; certificate, key exchange,
 * CertificateVerify and Finished; CONNECT with SUBSCRIBE and the GET in one write: 3.
 *
 * Then the link is cut: the robot reconnects and resumes its TLS session (Moddable's client keeps
 * one session ID per host, ssl/cache; the local broker answers session IDs): ClientHello with the
 * old ID; the abbreviated handshake's Finished with CONNECT, SUBSCRIBE and GET: 2.
 */
import { startProxy } from '../../support/proxy';
import { HOST, THING, metric, type Scenario } from '../suite';

const GET = `$aws/things/${THING}/shadow/name/schedule/get`;

const scenario: Scenario = {
	name: 'round-trips',
	async run(s) {
		s.clearStorage();
		const broker = await s.up();
		const proxy = await startProxy({ host: HOST, port: s.port });
		proxy.latency(20);
		try {
			await s.provision({ endpoint: `${HOST}:${proxy.port}` });
			const d = s.power('round trips');
			/** Round trips of connection `index` to the document: its client flights begun by the GET's arrival. */
			const toDocument = async (index: number): Promise<number | string> => {
				const until = Date.now() + 20_000;
				for (;;) {
					const gets = broker.record.entries({ thing: THING, topic: GET });
					const times = proxy.stats.flightTimes[index];
					const get = times ? gets.find((g) => g.at >= times[0]!) : undefined;
					if (get && times) return times.filter((t) => t <= get.at).length;
					if (Date.now() > until) return `no shadow GET through connection ${index} within 20 s (${gets.length} GETs, ${proxy.stats.connections} connections)`;
					await new Promise((r) => setTimeout(r, 50));
				}
			};
			await d.untilStatus('schedule synced', (x) => x.link === 'connected' && x.schedule === 'synced', 30_000);
			const first = await toDocument(0);
			if (typeof first === 'string') return first;
			// the link cut: the robot reconnects through the proxy and reads the shadow again
			const before = proxy.stats.connections;
			proxy.cut();
			await new Promise((r) => setTimeout(r, 300));
			proxy.restore();
			const until = Date.now() + 30_000;
			while (proxy.stats.connections <= before && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
			if (proxy.stats.connections <= before) return 'the robot did not reconnect through the proxy within 30 s';
			const again = await toDocument(proxy.stats.connections - 1);
			if (typeof again === 'string') return again;
			await d.off();
			metric({
				name: 'device.round_trips',
				scenario: 'round-trips',
				toDocumentFirst: first,
				toDocumentReconnect: again,
				bytesUp: proxy.stats.bytesUp[0],
				bytesDown: proxy.stats.bytesDown[0],
			});
			console.log(`device: round trips from TCP connect to the schedule document: ${first} with a full TLS handshake (first connection), ${again} resumed (after a cut)`);
			if (first !== 3) return `round trips to the document on the first connection: ${first}, expected 3 (full TLS 1.2 handshake, CONNECT, SUBSCRIBE and GET in one write)`;
			if (again !== 2) return `round trips to the document after a reconnect: ${again}, expected 2 (TLS session resumed)`;
			return undefined;
		} finally {
			await proxy.close();
		}
	},
};
export default scenario;
