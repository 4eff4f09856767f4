/*
 * The certificate lifecycle on the shipped firmware (issue #25, docs/fleet-operations.md):
 *   cert-renewal  a robot whose certificate ends in 5 days (inside the 30-day window) asks,
 *                 after its connect, for a new certificate with a CSR signed by its existing key
 *                 over MQTT (core/renew); the local cloud's cert-renew issues it from the dev CA.
 *                 First the broker refuses the new one (the test sets it INACTIVE as the answer
 *                 goes out): after 3 failed connects the robot goes back to its old certificate,
 *                 which still connects, and keeps nothing new. At the next power-on it asks
 *                 again; this time it reconnects with the new one and only then keeps it
 *                 (crt.current) and drops the old one; the broker's connect events name the old certificate, then the new
 *                 one; cert-retire sets the old one INACTIVE once the new one connected, and the
 *                 robots table records both changes by renewal; after a power cycle the robot
 *                 connects with the new certificate and asks for nothing.
 *   cert-expired  a robot whose certificate expired while it was offline is not bricked: the
 *                 broker refuses every handshake (CERT_HAS_EXPIRED), the robot keeps trying at
 *                 its backoff (failures in a row, never a connect, no renewal asked: it cannot
 *                 reach the cloud), its missions run offline and their reports wait in the
 *                 durable outbox; given a new certificate over the same storage (a service
 *                 visit's re-provisioning) it connects and delivers what it kept, once.
 * Each uses a thing of its own (the dev PKI issues its certificate), never robot-dev-1's.
 */
import { reportTopic } from '../../../firmware/core/mission/report';
import { say, until, type Scenario, type Suite } from '../suite';

const DAY = 86_400_000;

/** A new robot of the product CA, known to the registry (ACTIVE, attached), its certificate valid until `notAfter`. */
async function robotUntil(s: Suite, prefix: string, validity: { notBefore?: Date; notAfter: Date }) {
	const { issueDevice } = await import('../../../cloud/local/dev-pki');
	const identity = await issueDevice(s.cloud.pki, prefix + '-' + Date.now().toString(36), validity);
	const id = s.cloud.registration.registry.addDevice(identity.certDer, identity.thing);
	return { identity, id, credentials: { ca: s.deviceCredentials.ca, cert: identity.certDer, key: identity.keyDer } };
}

export const certRenewal: Scenario = {
	name: 'cert-renewal',
	async run(s) {
		const notAfter = new Date(Date.now() + 5 * DAY);
		const { identity, id: oldId, credentials } = await robotUntil(s, 'robot-renew', { notAfter });
		const thing = identity.thing;
		const registry = s.cloud.registration.registry;
		const { principals, off } = connectsOf(s, thing);
		try {
			s.clearStorage();
			await s.up();
			await s.provision({ credentials });
			const refused = await newOneRefused(s, thing, oldId, principals);
			if (refused) return refused;
			const d = s.power('near expiry');
			const online = await d.waitFor('link.online', () => true, 30_000);
			// afterConnectMs (10 s by default) after the connect, the CSR goes out
			const requested = await d.waitFor('renew.requested', () => true, 40_000);
			const trying = await d.waitFor('renew.trying', () => true, 30_000);
			const switched = await d.waitFor('renew.switched', () => true, 30_000);
			await d.untilStatus('connected with the new certificate', (x) => x.link === 'connected', 20_000);
			const onlines = d.log.filter((l) => l.event === 'link.online');
			const stored = s.stored();
			await d.off();
			// X.509 times have whole seconds
			if (Math.abs(Date.parse(String(requested.notAfter)) - notAfter.getTime()) >= 1_000) return `renew.requested names notAfter ${String(requested.notAfter)}, expected ${notAfter.toISOString()}`;
			if (trying.serial !== switched.serial) return `tried serial ${String(trying.serial)}, switched to ${String(switched.serial)}`;
			// the old certificate is dropped only after a connect with the new one
			const connectAfterTry = onlines.find((l) => l.t >= trying.t);
			if (!connectAfterTry || connectAfterTry.t > switched.t) return `no connect between renew.trying (t ${trying.t}) and renew.switched (t ${switched.t}): link.online at ${onlines.map((l) => l.t).join(', ')}`;
			if (!('crt.current' in stored) || 'crt.next' in stored)
				return `after the switch storage holds ${
					Object.keys(stored)
						.filter((k) => k.startsWith('crt.'))
						.join(', ') || 'no crt.* record'
				}, expected crt.current only`;
			// the last issue replacing the old one (the first was refused by the broker)
			const issued = [...s.events].reverse().find((e) => e.event === 'cert_renew.issued' && e.replaces === oldId);
			if (!issued) return `the cloud never logged cert_renew.issued replacing ${oldId}`;
			const newId = String(issued.certificateId);
			const seen = principals.length;
			if ((await until('two connect events', () => (principals.length >= 4 ? true : undefined), 10_000).catch(() => false)) !== true) return `connect events: ${JSON.stringify(principals)} (${seen})`;
			const [before, after] = principals.slice(-2);
			if (before !== oldId || after !== newId) return `connect events name ${JSON.stringify(principals)}, expected [..., old ${oldId}, new ${newId}]`;
			await until('the old certificate INACTIVE (cert-retire)', () => (registry.certificate(oldId)?.status === 'INACTIVE' ? true : undefined), 10_000);
			if (registry.certificate(newId)?.status !== 'ACTIVE') return `the new certificate is ${String(registry.certificate(newId)?.status)}`;
			const retired = s.events.find((e) => e.event === 'cert_retire.retired' && e.certificateId === oldId);
			if (!retired || retired.renewed !== newId) return `cert_retire.retired: ${JSON.stringify(retired)}`;
			say(
				`${thing}: online at t ${online.t}, renew.requested at t ${requested.t} (notAfter ${String(requested.notAfter)}), renew.trying serial ${String(trying.serial)} at t ${trying.t}, link.online at t ${connectAfterTry.t}, renew.switched at t ${switched.t} (notAfter ${String(switched.notAfter)}); connects with ${oldId.slice(0, 12)}… then ${newId.slice(0, 12)}…; old INACTIVE, new ACTIVE`,
			);
			const history = await robotsHistory(s, thing);
			const changes = history.map((h) => `${h.certificateId.slice(0, 12)}… ${h.from}->${h.to} by ${h.by}`);
			// the refused one's entry first (issued, then set INACTIVE outside the product's tools), then this renewal's two
			const last = history.slice(-2);
			if (history.length !== 3 || last[0]!.certificateId !== newId || last[0]!.to !== 'ACTIVE' || last[1]!.certificateId !== oldId || last[1]!.to !== 'INACTIVE' || history.some((h) => h.by !== 'renewal'))
				return `robots table history ${JSON.stringify(changes)}, expected the refused one issued, then the new one ACTIVE and the old one INACTIVE, by renewal`;
			say(`robots table: ${changes.join('; ')}`);

			// a power cycle: the renewed certificate from storage, a connect with it, nothing asked (not due)
			const e = s.power('after renewal');
			const using = await e.waitFor('renew.using_renewed', () => true, 20_000);
			await e.waitFor('link.online', () => true, 30_000);
			// past afterConnectMs: the check ran and found nothing due
			await new Promise((r) => setTimeout(r, 12_000));
			await e.off();
			if (using.serial !== switched.serial) return `the power-on uses serial ${String(using.serial)}, renewed ${String(switched.serial)}`;
			if (e.count('renew.requested')) return 'the renewed robot asked again';
			await until('a fifth connect event', () => (principals.length >= 5 ? true : undefined), 10_000);
			if (principals[4] !== newId) return `after the power cycle the robot connected with ${principals[4]}, expected ${newId}`;
			say(`power cycle: renew.using_renewed serial ${String(using.serial)}, connected with ${newId.slice(0, 12)}…, no renew.requested in 12 s`);
			return undefined;
		} finally {
			off();
			s.clearStorage();
		}
	},
};

/**
 * The first power-on: the broker refuses the renewed certificate (set INACTIVE by the test the
 * moment the cloud's answer goes out, before the robot can have read it: its reconnect follows
 * its reading). The robot fails 3 connects with it, goes back to the old one (renew.fallback),
 * connects with it, and stores nothing new. Two connect events, both the old certificate's.
 */
async function newOneRefused(s: Suite, thing: string, oldId: string, principals: readonly string[]): Promise<string | undefined> {
	const { createHash } = await import('node:crypto');
	const registry = s.cloud.registration.registry;
	let refusedId: string | undefined;
	const off = s.cloud.bus.subscribe('robots/' + thing + '/cert/renew/accepted', (m) => {
		const der = Buffer.from(String((JSON.parse(Buffer.from(m.payload).toString()) as { certificate: string }).certificate), 'base64');
		refusedId = createHash('sha256').update(der).digest('hex');
		registry.setCertificateStatus(refusedId, 'INACTIVE');
	});
	try {
		const d = s.power('new one refused');
		await d.waitFor('link.online', () => true, 30_000);
		const trying = await d.waitFor('renew.trying', () => true, 40_000);
		const fallback = await d.waitFor('renew.fallback', () => true, 30_000);
		const back = await d.waitFor('link.online', (l) => l.t > fallback.t, 30_000);
		const stored = s.stored();
		await d.off();
		const failed = d.log.filter((l) => l.event === 'link.backoff' && l.t > trying.t && l.t <= fallback.t).length;
		if (Object.keys(stored).some((k) => k.startsWith('crt.')))
			return `after the fallback storage holds ${Object.keys(stored)
				.filter((k) => k.startsWith('crt.'))
				.join(', ')}`;
		if (!refusedId || registry.certificate(refusedId)?.status !== 'INACTIVE') return `the renewed certificate ${String(refusedId)} was not refused`;
		if (registry.certificate(oldId)?.status !== 'ACTIVE') return `the old certificate is ${String(registry.certificate(oldId)?.status)} after a failed switch, expected ACTIVE`;
		await until('two connect events', () => (principals.length >= 2 ? true : undefined), 10_000);
		if (principals.length !== 2 || principals.some((p) => p !== oldId)) return `connect events ${JSON.stringify(principals)}: expected two with the old certificate`;
		say(
			`${thing}: renew.trying serial ${String(trying.serial)} at t ${trying.t}; the broker refuses it: ${failed} failed connects, renew.fallback (failures ${String(fallback.failures)}) at t ${fallback.t}, link.online with the old certificate at t ${back.t}; no crt.* on storage; old ACTIVE`,
		);
		return undefined;
	} finally {
		off();
	}
}

async function robotsHistory(s: Suite, thing: string) {
	const { createDocumentClient } = await import('../../../cloud/lib/aws');
	const { LOCAL_CREDENTIALS, LOCAL_REGION } = await import('../../../cloud/local/credentials');
	const { certificateHistory } = await import('../../../tools/certs/lifecycle');
	const ddb = createDocumentClient({ region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, endpoint: s.cloud.endpoints.dynamodb });
	try {
		return await until('three history entries', async () => {
			const h = await certificateHistory(ddb, s.cloud.tables.robots, thing);
			return h.length >= 3 ? h : undefined;
		});
	} finally {
		ddb.destroy();
	}
}

export const certExpired: Scenario = {
	name: 'cert-expired',
	async run(s) {
		const { identity, id, credentials } = await robotUntil(s, 'robot-expired', { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
		const thing = identity.thing;
		const { principals, off } = connectsOf(s, thing);
		try {
			s.clearStorage();
			await s.up();
			await s.provision({ credentials });
			const refusedBefore = s.events.filter((e) => e.event === 'broker.tls.refused' && e.reason === 'CERT_HAS_EXPIRED').length;
			const d = s.power('expired');
			await d.waitFor('main.boot');
			const m = await d.command({ cmd: 'mission' });
			const mission = String(m.mission);
			await d.waitFor('mission.report', (l) => l.mission === mission || l.missionId === mission, 30_000);
			await d.until('four refused attempts', () => (d.count('link.backoff') >= 4 ? true : undefined), 30_000);
			const st = await d.untilStatus('the report in the outbox', (x) => Number(x.outbox) >= 1);
			await d.off();
			const attempts = d.log.filter((l) => l.event === 'link.backoff').map((l) => Number(l.attempt));
			const refused = s.events.filter((e) => e.event === 'broker.tls.refused' && e.reason === 'CERT_HAS_EXPIRED').length - refusedBefore;
			if (d.count('link.online') || principals.length) return 'the robot connected with an expired certificate';
			if (attempts.some((a, i) => a !== i + 1)) return `backoff attempts ${JSON.stringify(attempts)}: expected failures in a row, never reset`;
			if (refused < attempts.length) return `the broker logged ${refused} CERT_HAS_EXPIRED refusals for ${attempts.length} attempts`;
			if (d.count('renew.requested')) return 'a renewal was asked without a connection';
			if (st.link === 'connected') return `status ${JSON.stringify(st)}`;
			say(
				`${thing} with a certificate expired a day ago: ${attempts.length} attempts (attempt ${attempts.join(',')}), broker.tls.refused CERT_HAS_EXPIRED ${refused} times, no connect, mission ${mission} reported into the outbox (${String(st.outbox)} message(s)), schedule and missions offline`,
			);

			// a service visit: a new certificate (and key) for the same robot; the same storage
			const { issueDevice } = await import('../../../cloud/local/dev-pki');
			const again = await issueDevice(s.cloud.pki, thing);
			const renewed = { again, id: s.cloud.registration.registry.addDevice(again.certDer, thing) };
			await s.provision({ credentials: { ...credentials, cert: again.certDer, key: again.keyDer } });
			const topic = reportTopic(thing, mission);
			const e = s.power('re-provisioned');
			await e.untilStatus('connected, the outbox delivered', (x) => x.link === 'connected' && x.outbox === 0, 30_000);
			await until('the report at the broker', () => ((s.broker()?.record.entries({ thing, topic }) ?? []).length ? true : undefined), 10_000);
			await new Promise((r) => setTimeout(r, 1_000));
			await e.off();
			const got = s.broker()?.record.entries({ thing, topic }) ?? [];
			if (got.length !== 1) return `the broker received ${got.length} report(s) of ${mission} after re-provisioning, expected 1`;
			if (principals[0] !== renewed.id) return `connected with ${String(principals[0])}, expected the new certificate ${renewed.id}`;
			if (principals.includes(id)) return 'a connect was made with the expired certificate';
			say(`re-provisioned: connected with the new certificate ${renewed.id.slice(0, 12)}…, the report of ${mission} arrived once`);
			return undefined;
		} finally {
			off();
			s.clearStorage();
		}
	},
};

/** The broker's lifecycle events for `thing`: the certificate (principal) each connect was made with, in order. */
function connectsOf(s: Suite, thing: string): { principals: string[]; off: () => void } {
	const principals: string[] = [];
	const off = s.cloud.bus.subscribe('$aws/events/presence/connected/' + thing, (m) => void principals.push(String((JSON.parse(Buffer.from(m.payload).toString()) as { principalIdentifier: string }).principalIdentifier)));
	return { principals, off };
}
