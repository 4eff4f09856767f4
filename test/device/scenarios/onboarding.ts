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
 *                 command; credentials gone (said once, read again, the robot runs offline
 *                 under the name kept from its last identity: a mission's report waits in the
 *                 outbox and arrives once when credentials are back).
 */
import { HOST, say, THING, type Scenario } from '../suite';
import { reportTopic } from '../../../firmware/core/mission/report';

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

		// 3. credentials gone: said once, read again; the robot runs offline under the name kept from
		// its last identity (a mission runs, its report waits in the outbox), then credentials come
		// back (written between power-ons: lin's Preference is the app's file while it runs) and
		// the report arrives once
		await s.provision({ credentials: null });
		const c = s.power('no credentials');
		await c.waitFor('main.no_credentials');
		const named = await c.waitFor('main.offline_name');
		if (named.thing !== THING || named.source !== 'stored') return `without credentials the robot runs as ${JSON.stringify(named)}, expected ${THING} from storage`;
		const mc = await c.command({ cmd: 'mission' });
		if (typeof mc.mission !== 'string') return `no mission without credentials: ${JSON.stringify(mc)}`;
		const id = mc.mission;
		await c.waitFor('mission.report', (l) => l.mission === id || l.missionId === id, 30_000);
		await new Promise((r) => setTimeout(r, 3_500));
		const sc = await c.status();
		await c.off();
		if (!String(sc.waitingFor).includes('identity') || sc.link !== 'offline' || !(Number(sc.outbox) >= 1)) return `without credentials the robot says ${JSON.stringify(sc)}, expected waiting for identity, offline, the report in the outbox`;
		if (c.count('main.no_credentials') !== 1) return `main.no_credentials logged ${c.count('main.no_credentials')} times, expected once`;
		if (c.count('main.waiting') < 1) return 'main.waiting never logged without credentials';
		const topic = reportTopic(THING, id);
		if ((s.broker()?.record.entries({ thing: THING, topic }) ?? []).length) return 'a report went out without credentials';
		await s.provision();
		const d = s.power('credentials back');
		await d.untilStatus('connected with credentials back', (x) => x.link === 'connected', 30_000);
		await d.until('the offline report at the broker', () => ((s.broker()?.record.entries({ thing: THING, topic }) ?? []).length ? true : undefined), 20_000);
		await new Promise((r) => setTimeout(r, 1_000));
		await d.off();
		const got = s.broker()?.record.entries({ thing: THING, topic }) ?? [];
		if (got.length !== 1) return `broker received ${got.length} report(s) on ${topic} after credentials came back, expected 1`;
		say(`no credentials: said once, ran offline as ${THING} (stored name), mission ${id} reported into the outbox; credentials back: connected, the report arrived once`);
		return undefined;
	},
};
