/*
 * A robot's first day (issue #19), on the shipped firmware:
 *   registration  a blank robot with only its factory identity (a certificate of the product
 *                 CA the cloud has never seen) and the registration URL record registers
 *                 against the registration API (validate, queue, worker), is activated
 *                 (certificate ACTIVE, attached to its thing), then connects; the next
 *                 power-on sends nothing (storage says it is done).
 *   network       the robot waits without what it needs and connects when it comes:
 *                 the broker withheld (the network, as far as lin goes) then back; the
 *                 endpoint record absent (said once, the schedule and missions run offline,
 *                 read again every retryMs) then written by the test-control `endpoint`
 *                 command; no credentials at all (said once, test control answers not-ready).
 */
import { HOST, say, type Scenario } from '../suite';

const BLANK = 'robot-blank-1';

export const registration: Scenario = {
	name: 'registration',
	async run(s) {
		const { issueDevice } = await import('../../../cloud/local/dev-pki');
		const { certificateId } = await import('../../../firmware/core/registration/registration');
		const { hostCrypto } = await import('../../../firmware/platform/host/crypto');
		const blank = await issueDevice(s.cloud.pki, BLANK + '-' + Date.now().toString(36));
		const thing = blank.thing;
		const registry = s.cloud.registration.registry;
		const id = certificateId(hostCrypto, blank.certDer);
		if (registry.certificate(id)) return 'the cloud knows the blank robot before it registered';
		s.clearStorage();
		await s.up();
		await s.provision({ credentials: { ca: s.deviceCredentials.ca, cert: blank.certDer, key: blank.keyDer }, register: s.cloud.registration.url });
		const d = s.power('first boot');
		const waiting = await d.waitFor('main.waiting', (l) => String(l.for).includes('registration'));
		const registered = await d.waitFor('registration.registered', () => true, 30_000);
		await d.waitFor('link.online', () => true, 20_000);
		await d.untilStatus('connected, schedule synced', (x) => x.link === 'connected' && x.schedule === 'synced' && x.registration === 'done');
		await d.off();
		const cert = registry.certificate(id);
		if (cert?.status !== 'ACTIVE') return `certificate ${id} is ${String(cert?.status)} after registration, expected ACTIVE`;
		const principals = [...(registry.thing(thing)?.principals ?? [])];
		if (!principals.includes(cert.arn)) return `thing ${thing} has principals ${JSON.stringify(principals)}, expected the certificate`;
		say(`registered as ${thing} after ${String(registered.attempts)} attempt(s) (waited for ${String(waiting.for)}); certificate ACTIVE and attached; connected`);
		const e = s.power('second boot');
		await e.untilStatus('connected', (x) => x.link === 'connected');
		await e.off();
		if (e.count('registration.retry') || e.count('registration.registered')) return 'the second power-on registered again';
		return undefined;
	},
};

export const network: Scenario = {
	name: 'network',
	async run(s) {
		s.clearStorage();
		// 1. the broker withheld: the robot waits in its backoff, and connects when it appears
		await s.down();
		await s.provision();
		const a = s.power('no broker');
		await a.until('two refused attempts', () => (a.count('link.backoff') >= 2 ? true : undefined), 20_000);
		const offline = await a.status();
		if (offline.link === 'connected') return 'connected without a broker';
		await s.up();
		await a.waitFor('link.online', () => true, 20_000);
		await a.untilStatus('connected, schedule synced', (x) => x.link === 'connected' && x.schedule === 'synced');
		await a.off();
		say(`broker withheld: ${a.count('link.backoff')} backoff(s) while it was away, then connected`);

		// 2. no endpoint record: said once, works offline, connects once the record is written
		await s.provision({ endpoint: null });
		const b = s.power('no endpoint');
		await b.waitFor('main.no_endpoint');
		const m = await b.command({ cmd: 'mission' });
		if (typeof m.mission !== 'string') return `no mission offline: ${JSON.stringify(m)}`;
		// several retry periods (retryMs 1 s): the robot reads again, and says it only once
		await new Promise((r) => setTimeout(r, 3_500));
		const st = await b.status();
		if (!String(st.waitingFor).includes('endpoint') || st.link !== 'offline') return `without an endpoint the robot says ${JSON.stringify(st)}`;
		if (b.count('main.no_endpoint') !== 1) return `main.no_endpoint logged ${b.count('main.no_endpoint')} times, expected once`;
		await b.command({ cmd: 'endpoint', endpoint: `${HOST}:${s.port}`, server: 'localhost' });
		await b.untilStatus('connected after the endpoint command', (x) => x.link === 'connected', 20_000);
		await b.off();
		const record = s.stored('net').endpoint;
		if (record !== `${HOST}:${s.port}`) return `the endpoint record on storage is ${String(record)}`;
		say(`no endpoint record: said once, a mission ran offline (${m.mission}); the endpoint command wrote ${record} and the robot connected`);

		// 3. no credentials: said once, read again, test control answers not-ready
		await s.provision({ credentials: null });
		const c = s.power('no credentials');
		await c.waitFor('main.no_credentials');
		await new Promise((r) => setTimeout(r, 3_500));
		const reply = await (await c.channel()).command({ cmd: 'status' });
		await c.off();
		if (reply.ok || reply.error.code !== 'not-ready') return `without credentials status answered ${JSON.stringify(reply)}, expected not-ready`;
		if (c.count('main.no_credentials') !== 1) return `main.no_credentials logged ${c.count('main.no_credentials')} times, expected once`;
		say(`no credentials: ${JSON.stringify(c.log.find((l) => l.event === 'main.no_credentials'))}, once`);
		return undefined;
	},
};
