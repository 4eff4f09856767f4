/*
 * The local stand-in for the AWS IoT control plane's registry (things, certificates, CA
 * certificates, policy attachments), in process: the IotRegistry the registration handlers
 * take (cloud/functions/register-worker/registry.ts), with the semantics they rely on:
 * - RegisterCertificate checks the certificate is signed by the CA given, which must be a
 *   registered CA (else CertificateValidationException, here CertificateRejected), and is
 *   idempotent: an existing certificate is answered with its status unchanged;
 * - CreateThing answers an existing thing; attaching twice is attaching once.
 * A registered certificate also goes into the local DescribeCertificate directory (the
 * upload-slot handler's), so lookups by certificate id work as on AWS.
 *
 * The broker asks it at every CONNECT (`admits`), as AWS IoT does: the certificate must be
 * registered and ACTIVE, and a robot's must be attached to the thing it connects as (the
 * policy's `iot:Connection.Thing.IsAttached`). Setting a certificate's status to anything but
 * ACTIVE (`setCertificateStatus(id, 'REVOKED')`) tells the `onCertificateStatus` listeners; the
 * local cloud wires the broker's `disconnectCertificate` to it, so the live session ends too.
 * The local cloud enters the dev PKI's certificates at start (`addDevice`: provisioned before
 * the cloud runs). Tests inspect the registry (`thing`, `certificate`) and may inject faults
 * (`failNext`).
 *
 * Given a `file`, the registry is kept there (iot-registry-store.ts): read at creation (a bad
 * file throws, and is left alone) and written after every change, so robots registered or
 * renewed, revocations and each certificate's status history survive a restart.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { CertificateRejected, type CaCertificate, type IotRegistry, type RegisteredCertificate } from '../functions/register-worker/registry';
import type { LocalCertificates } from './certificates';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './credentials';
import { isThingName } from '../../firmware/core/contracts/thing';
import { readRegistrySnapshot, writeRegistrySnapshot, type RegistrySnapshot, type StoredStatusChange } from './iot-registry-store';

export type RegistryOperation = keyof IotRegistry;

export interface LocalThing {
	readonly name: string;
	readonly arn: string;
	/** DescribeThing's thingId: a stable id of this thing (a new thing of the same name gets a new one). */
	readonly id: string;
	readonly principals: ReadonlySet<string>;
	/** The thing's attributes (attributePayload); `version` counts their changes from 1. */
	readonly attributes: Readonly<Record<string, string>>;
	readonly version: number;
}

export interface LocalCertificateRecord {
	readonly id: string;
	readonly arn: string;
	status: string;
	readonly pem: string;
	readonly policies: Set<string>;
	/** Epoch ms: registered (creationDate) and last status change (lastModifiedDate). */
	readonly createdAt: number;
	modifiedAt: number;
	/** Every status it had, oldest first (the first is at registration); the last is `status`. */
	readonly history: StoredStatusChange[];
}

export interface LocalIotRegistry extends IotRegistry {
	/** Registers a CA certificate (as RegisterCACertificate), ACTIVE; returns its id. */
	registerCa(pem: string): string;
	/** CreateThing with attributes; a thing that exists with other attributes is ResourceAlreadyExistsException, as on AWS. */
	createThing(thingName: string, attributes?: Readonly<Record<string, string>>): Promise<{ readonly thingArn: string }>;
	/**
	 * DeleteThing: a thing that does not exist is no error (AWS: "Returns successfully ... if
	 * you specify a thing that doesn't exist"); one with principals attached is InvalidRequestException.
	 */
	deleteThing(thingName: string): void;
	/** ListThings: every thing, by name. */
	things(): LocalThing[];
	thing(name: string): LocalThing | undefined;
	certificate(id: string): LocalCertificateRecord | undefined;
	/**
	 * Sets a certificate's status (UpdateCertificate), e.g. REVOKED or INACTIVE. Any status but
	 * ACTIVE is refused at the next CONNECT, and the `onCertificateStatus` listeners hear of it
	 * (the local cloud disconnects the certificate's live session).
	 */
	setCertificateStatus(id: string, status: CertificateStatus): void;
	/** Hears every status change; returns an off switch. */
	onCertificateStatus(listener: (id: string, status: CertificateStatus) => void): () => void;
	/**
	 * Whether a connection with this certificate (id: SHA-256 hex of the DER) may CONNECT as
	 * `thing`: registered, ACTIVE, and (unless `operator`) attached to the thing.
	 */
	admits(certificateId: string, thing: string, operator?: boolean): { ok: true } | { ok: false; reason: string };
	/** Enters a certificate provisioned before the cloud started (the dev PKI's), ACTIVE, attached to `thing` when given. */
	addDevice(certDer: Uint8Array, thing?: string): string;
	/** The next `times` calls of `op` (for `thing` when given) throw `error`: a service fault. */
	failNext(op: RegistryOperation, options?: { times?: number; thing?: string; error?: Error }): void;
	clearFaults(): void;
	/** Every call made, for tests: `op` and its first argument. */
	readonly calls: { op: RegistryOperation; arg: string }[];
}

const sha256Hex = (der: Uint8Array) => createHash('sha256').update(der).digest('hex');

/** UpdateCertificate's statuses; only ACTIVE connects. */
export const CERTIFICATE_STATUSES = Object.freeze(['ACTIVE', 'INACTIVE', 'REVOKED', 'PENDING_TRANSFER', 'PENDING_ACTIVATION'] as const);
export type CertificateStatus = (typeof CERTIFICATE_STATUSES)[number];

type ThingState = { name: string; arn: string; id: string; principals: Set<string>; attributes: Record<string, string>; version: number };

/** What the registry holds, and its file keeps. */
interface RegistryState {
	readonly cas: Map<string, CaCertificate>;
	readonly certs: Map<string, LocalCertificateRecord>;
	readonly things: Map<string, ThingState>;
}

/** Enters the snapshot in `file`, if there is one; a bad file (a certificate that does not parse too) throws. */
function loadState(file: string, state: RegistryState, certificates: LocalCertificates | undefined): void {
	const snap: RegistrySnapshot | undefined = readRegistrySnapshot(file);
	if (!snap) return;
	for (const c of snap.cas) state.cas.set(c.id, { pem: c.pem, status: c.status });
	for (const c of snap.certificates) {
		let der: Buffer;
		try {
			der = new X509Certificate(c.pem).raw;
		} catch (e) {
			throw new Error('local IoT registry ' + file + ': certificate ' + c.id + ' does not parse (' + (e as Error).message + '); the file is left as it is');
		}
		state.certs.set(c.id, { ...c, policies: new Set(c.policies), history: [...c.history] });
		certificates?.register(der);
	}
	for (const t of snap.things) state.things.set(t.name, { ...t, principals: new Set(t.principals), attributes: { ...t.attributes } });
}

function saveState(file: string, state: RegistryState): void {
	writeRegistrySnapshot(file, {
		version: 1,
		cas: [...state.cas.entries()].map(([id, c]) => ({ id, pem: c.pem, status: c.status })),
		certificates: [...state.certs.values()].map((c) => ({ ...c, policies: [...c.policies] })),
		things: [...state.things.values()].map((t) => ({ ...t, principals: [...t.principals] })),
	});
}

/** The calls made and the faults injected (failNext), for tests. */
function faultInjector() {
	const faults: { op: RegistryOperation; times: number; thing?: string; error: Error }[] = [];
	const calls: { op: RegistryOperation; arg: string }[] = [];
	return {
		calls,
		/** Records a call; throws the first pending fault for it. */
		enter(op: RegistryOperation, arg: string, thing?: string) {
			calls.push({ op, arg });
			const f = faults.find((x) => x.op === op && x.times > 0 && (x.thing === undefined || x.thing === thing));
			if (f) {
				f.times--;
				throw f.error;
			}
		},
		failNext(op: RegistryOperation, o: { times?: number; thing?: string; error?: Error } = {}) {
			faults.push({
				op,
				times: o.times ?? 1,
				...(o.thing !== undefined ? { thing: o.thing } : {}),
				error: o.error ?? Object.assign(new Error('injected fault in ' + op), { name: 'ServiceUnavailableException' }),
			});
		},
		clearFaults() {
			faults.length = 0;
		},
	};
}

/** A certificate as registered now: ACTIVE, its history starting there. */
function newCertRecord(cert: X509Certificate, arn: (kind: string, id: string) => string): LocalCertificateRecord {
	const id = sha256Hex(cert.raw);
	const now = Date.now();
	return { id, arn: arn('cert', id), status: 'ACTIVE', pem: cert.toString(), policies: new Set(), createdAt: now, modifiedAt: now, history: [{ status: 'ACTIVE', at: now }] };
}

const sameAttributes = (a: Record<string, string>, b: Readonly<Record<string, string>>) => Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);

export function createLocalIotRegistry(options: { certificates?: LocalCertificates; region?: string; account?: string; file?: string } = {}): LocalIotRegistry {
	const region = options.region ?? LOCAL_REGION;
	const account = options.account ?? LOCAL_ACCOUNT;
	const arn = (kind: string, id: string) => `arn:aws:iot:${region}:${account}:${kind}/${id}`;
	const state: RegistryState = { cas: new Map(), certs: new Map(), things: new Map() };
	const { cas, certs, things } = state;
	if (options.file !== undefined) loadState(options.file, state, options.certificates);
	/** Called after every change, before it answers. */
	const save = () => void (options.file !== undefined && saveState(options.file, state));
	const injector = faultInjector();
	const enter = injector.enter;
	const r: Registry = { state, arn, save, enter, certificates: options.certificates };
	const statusListeners = new Set<(id: string, status: CertificateStatus) => void>();
	const certByArn = (certificateArn: string) => certificateByArn(certs, certificateArn);
	const thingOfCert = (certificateArn: string) => [...things.values()].find((t) => t.principals.has(certificateArn))?.name;

	return {
		calls: injector.calls,
		failNext: injector.failNext,
		clearFaults: injector.clearFaults,
		registerCa(pem) {
			const id = sha256Hex(new X509Certificate(pem).raw);
			const known = cas.get(id);
			if (known?.pem === pem && known.status === 'ACTIVE') return id;
			cas.set(id, { pem, status: 'ACTIVE' });
			save();
			return id;
		},
		async describeCaCertificate(id) {
			enter('describeCaCertificate', id);
			return cas.get(id);
		},
		async registerCertificate(certificatePem, caCertificatePem) {
			return registerCertificate(r, certificatePem, caCertificatePem);
		},
		async createThing(name, attributes) {
			return createThing(r, name, attributes);
		},
		deleteThing(name) {
			const t = things.get(name);
			if (!t) return;
			if (t.principals.size > 0) throw Object.assign(new Error('Cannot delete. Thing ' + name + ' is still attached to one or more principals'), { name: 'InvalidRequestException' });
			things.delete(name);
			save();
		},
		things() {
			return [...things.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
		},
		async attachPolicy(policyName, certificateArn) {
			enter('attachPolicy', policyName, thingOfCert(certificateArn));
			const c = certByArn(certificateArn);
			if (c.policies.has(policyName)) return;
			c.policies.add(policyName);
			save();
		},
		async attachThingPrincipal(name, certificateArn) {
			enter('attachThingPrincipal', name, name);
			const t = things.get(name);
			if (!t) throw Object.assign(new Error('no thing ' + name), { name: 'ResourceNotFoundException' });
			certByArn(certificateArn);
			if (t.principals.has(certificateArn)) return;
			t.principals.add(certificateArn);
			save();
		},
		thing(name) {
			return things.get(name);
		},
		certificate(id) {
			return certs.get(id);
		},
		setCertificateStatus(id, status) {
			const c = certs.get(id);
			if (!c) throw Object.assign(new Error('no certificate ' + id), { name: 'ResourceNotFoundException' });
			if (!CERTIFICATE_STATUSES.includes(status)) throw new RangeError('"status" expected one of ' + CERTIFICATE_STATUSES.join(', ') + ', got ' + String(status));
			c.status = status;
			c.modifiedAt = Date.now();
			c.history.push({ status, at: c.modifiedAt });
			save();
			for (const l of statusListeners) l(id, status);
		},
		onCertificateStatus(listener) {
			statusListeners.add(listener);
			return () => void statusListeners.delete(listener);
		},
		admits(certificateId, thing, operator = false) {
			return admits(state, certificateId, thing, operator);
		},
		addDevice(certDer, thing) {
			return addDevice(r, certDer, thing);
		},
	};
}

/** What the operations below share: the state, ARNs, persisting, the call log with its faults. */
interface Registry {
	readonly state: RegistryState;
	readonly arn: (kind: string, id: string) => string;
	/** Called after every change, before it answers. */
	readonly save: () => void;
	readonly enter: (op: RegistryOperation, arg: string, thing?: string) => void;
	readonly certificates: LocalCertificates | undefined;
}

function newThing(r: Registry, name: string, attributes: Readonly<Record<string, string>> = {}): ThingState {
	return { name, arn: r.arn('thing', name), id: randomUUID(), principals: new Set<string>(), attributes: { ...attributes }, version: 1 };
}

function certificateByArn(certs: RegistryState['certs'], certificateArn: string): LocalCertificateRecord {
	const c = [...certs.values()].find((x) => x.arn === certificateArn);
	if (!c) throw Object.assign(new Error('no certificate ' + certificateArn), { name: 'ResourceNotFoundException' });
	return c;
}

/** RegisterCertificate: checked against the registered CA given; idempotent. */
async function registerCertificate(r: Registry, certificatePem: string, caCertificatePem: string): Promise<RegisteredCertificate> {
	const { cas, certs } = r.state;
	let cert: X509Certificate;
	try {
		cert = new X509Certificate(certificatePem);
	} catch (e) {
		throw new CertificateRejected('the certificate does not parse: ' + (e as Error).message);
	}
	const cn = cert.subject
		.split('\n')
		.find((l) => l.startsWith('CN='))
		?.slice(3);
	r.enter('registerCertificate', certificatePem, cn);
	const ca = [...cas.values()].find((c) => c.pem === caCertificatePem || new X509Certificate(c.pem).raw.equals(new X509Certificate(caCertificatePem).raw));
	if (!ca || ca.status !== 'ACTIVE') throw new CertificateRejected('the CA certificate is not registered or not active');
	const caCert = new X509Certificate(ca.pem);
	if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) throw new CertificateRejected('the certificate is not signed by the CA given');
	const id = sha256Hex(cert.raw);
	const existing = certs.get(id);
	if (existing) return { certificateId: id, certificateArn: existing.arn, status: existing.status, created: false };
	certs.set(id, newCertRecord(cert, r.arn));
	r.save();
	r.certificates?.register(cert.raw);
	return { certificateId: id, certificateArn: r.arn('cert', id), status: 'ACTIVE', created: true };
}

/** CreateThing: an existing thing is answered, unless asked with other attributes. */
async function createThing(r: Registry, name: string, attributes: Readonly<Record<string, string>> | undefined): Promise<{ readonly thingArn: string }> {
	const { things } = r.state;
	r.enter('createThing', name, name);
	if (!isThingName(name)) throw Object.assign(new Error('invalid thing name ' + JSON.stringify(name)), { name: 'InvalidRequestException' });
	let t = things.get(name);
	if (t && attributes !== undefined && !sameAttributes(t.attributes, attributes)) throw Object.assign(new Error('thing ' + name + ' already exists with different attributes'), { name: 'ResourceAlreadyExistsException' });
	if (!t) {
		things.set(name, (t = newThing(r, name, attributes)));
		r.save();
	}
	return { thingArn: t.arn };
}

/** The CONNECT check: registered, ACTIVE, and (unless `operator`) attached to the thing. */
function admits(state: RegistryState, certificateId: string, thing: string, operator: boolean): { ok: true } | { ok: false; reason: string } {
	const c = state.certs.get(certificateId);
	if (!c) return { ok: false, reason: 'certificate not registered' };
	if (c.status !== 'ACTIVE') return { ok: false, reason: 'certificate ' + c.status };
	if (operator) return { ok: true };
	const t = state.things.get(thing);
	if (!t || !t.principals.has(c.arn)) return { ok: false, reason: 'certificate not attached to thing ' + thing };
	return { ok: true };
}

/** Enters a certificate provisioned before the cloud started, attached to `thing` when given. */
function addDevice(r: Registry, certDer: Uint8Array, thing: string | undefined): string {
	const { certs, things } = r.state;
	const cert = new X509Certificate(certDer);
	const id = sha256Hex(cert.raw);
	if (thing !== undefined && !isThingName(thing)) throw new RangeError('"thing" expected an AWS IoT thing name, got ' + JSON.stringify(thing));
	// a certificate already known keeps its status: a revoked dev-PKI robot stays revoked across restarts
	let changed = false;
	if (!certs.has(id)) {
		certs.set(id, newCertRecord(cert, r.arn));
		changed = true;
	}
	r.certificates?.register(cert.raw);
	if (thing !== undefined) {
		let t = things.get(thing);
		if (!t) things.set(thing, (t = newThing(r, thing)));
		if (!t.principals.has(r.arn('cert', id))) {
			t.principals.add(r.arn('cert', id));
			changed = true;
		}
	}
	if (changed) r.save();
	return id;
}
