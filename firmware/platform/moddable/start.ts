/*
 * The robot on Moddable, assembled once (issue #19): firmware/main.ts reads configuration and
 * credentials and calls startRobot; a test build is the same call with test configuration
 * (config.testcmd, a jumpable clock, shorter timeouts, a faster mission clock), never a
 * second wiring. Here: the robot of the core (link, schedule sync and runner, missions, map
 * uploads after every report through the same uploader and durable queue as the simulator,
 * OTA), the cleaning model as the mission driver (the schedule starts missions, a test may
 * press the button), first-boot registration, the network, SNTP and test control.
 *
 * The link starts when every condition holds, and the robot says which one it waits for
 * (`main.waiting`, once per change): an identity (credentials in Preference "cred"), an
 * endpoint record (Preference "net", core/robot/onboarding.ts), the network, a known clock
 * (TLS checks certificate dates), and registration when a registration URL is provisioned
 * and storage does not say it is done. A missing or refused record is logged once and read
 * again every `retryMs`; the schedule and missions run offline meanwhile. The robot is made
 * from its name (core/robot/name.ts: the identity's, else the one kept from the last identity,
 * else the image's), not from its credentials: credentials gone or refused leave the link down,
 * not the robot; the key-bound parts (TLS, map uploads, renewal, OTA downloads) read the
 * identity when they run. The network going down stops the link; coming back starts it again,
 * from its backoff.
 */
import { createRobot, type Robot, type RobotUpload } from '../../core/robot/robot';
import type { LinkOptions } from '../../core/link/link';
import type { OutboxLimits } from '../../core/link/outbox';
import { DEFAULT_OUTBOX } from '../../core/link/outbox';
import type { BackoffPolicy } from '../../core/link/backoff';
import { isRegistered, register } from '../../core/registration/registration';
import type { Endpoint } from '../../core/robot/onboarding';
import { rememberName, robotName } from '../../core/robot/name';
import { jumpableClock, robotTarget, type JumpableClock } from '../../core/testcmd/control';
import type { ClockPort, DeviceKeyPort, HealthPort, HttpPort, LogFields, LogPort, TlsCredentials } from '../../ports';
import { CleaningSimulator, HOME_ROOMS, simCommandActions, TYPICAL_HOME } from '../../sim/cleaning';
import { scaledPorts } from '../../sim/clock';
import { seededRandom } from '../portable/random';
import { simulatedMap, squareFor } from '../../sim/map';
import { createModdableDeviceKey, moddableCrypto } from './crypto';
import { moddableOta } from './firmware';
import { createModdableHttpPort } from './http';
import type { Read } from './onboarding';
import type { NetworkHandle, NetworkOptions } from './network/network';
import { startSntp } from './sntp';
import { startTestCommands, type TransportOptions } from './testcmd/testcmd';
import type { createModdablePorts } from './platform';

export type Identity = TlsCredentials & { readonly thing: string };

export interface StartConfig {
	/** A build made for one robot names it; it must be the certificate's CN. */
	readonly thing?: string;
	/** SNTP servers, tried in turn. */
	readonly sntp: readonly string[];
	readonly link?: Partial<Omit<LinkOptions, 'endpoint' | 'clientId'>>;
	readonly outbox?: Partial<OutboxLimits>;
	readonly shadowTimeoutMs?: number;
	/** The cleaning model: real ms per simulated minute (60000 = real time), its seed and how often the wheel gets stuck. */
	readonly missions: { readonly msPerMin: number; readonly seed?: number; readonly stuckRate?: number };
	/** Bytes of the map uploaded after every mission; 0: no map uploads. */
	readonly mapBytes: number;
	/** How often a missing or refused record (credentials, endpoint) is read again. */
	readonly retryMs: number;
	readonly registration?: { readonly backoff?: BackoffPolicy; readonly maxAttempts?: number };
	/** Test builds only: the test-control transport. */
	readonly testcmd?: TransportOptions;
}

export interface StartPorts {
	readonly platform: ReturnType<typeof createModdablePorts>;
	/** The identity from Preference, or why there is none. */
	credentials(): Identity | string;
	readonly onboarding: {
		endpoint(): Read<Endpoint>;
		setEndpoint(record: string, server: string | undefined): Read<Endpoint>;
		registrationUrl(): Read<string>;
	};
	startNetwork(o: NetworkOptions): NetworkHandle;
	/** Known-answer checks of the platform (the test-control `self-test`). */
	selfTest?(): Record<string, unknown>;
	/** The platform's health figures (platform/moddable/health.ts): reported on the status shadow (core/health). */
	readonly health?: HealthPort;
}

type Condition = 'identity' | 'endpoint' | 'network' | 'clock' | 'registration';

export function startRobot(config: StartConfig, ports: StartPorts): void {
	const base = ports.platform;
	const log = base.log;
	const test = config.testcmd;
	// a test's clock-jump moves the wall clock the link and the missions read; the monotonic clock stays
	const linkClock = jumpableClock(base.clock);
	const clock: ClockPort = test ? linkClock.clock : base.clock;
	const linkPorts = { ...base, clock };
	const scaled = scaledPorts({ ...linkPorts, random: config.missions.seed === undefined ? base.random : seededRandom(config.missions.seed) }, config.missions.msPerMin);
	const missionClock = jumpableClock(scaled.clock);
	const missionPorts = test ? { ...scaled, clock: missionClock.clock } : scaled;
	const jumpable: JumpableClock = {
		clock,
		jump(ms) {
			linkClock.jump(ms);
			missionClock.jump(ms);
		},
		get offsetMs() {
			return linkClock.offsetMs;
		},
	};

	let robot: Robot | undefined;
	let target: ReturnType<typeof robotTarget> | undefined;
	let network: NetworkHandle | undefined;
	/** The robot's endpoint, filled from the record; the Link keeps this object and reads it at every connect. */
	let endpoint: { host: string; port: number; tls: TlsCredentials & { serverName?: string } } | undefined;
	let endpointKnown = false;
	let registration: 'none' | 'needed' | 'running' | 'done' = 'none';
	let linkOn = false;
	let clockKnown = clock.now() !== undefined;
	let waitingFor = '';
	const said = new Set<string>();
	/** Logs a problem with a record once (until it changes). */
	const once = (event: string, fields: LogFields) => {
		const key = event + JSON.stringify(fields);
		if (said.has(key)) return;
		said.add(key);
		log.log('error', event, fields);
	};

	const missing = (): Condition[] => {
		const m: Condition[] = [];
		if (!robot || !identity) m.push('identity');
		if (!endpointKnown) m.push('endpoint');
		if (!network?.up) m.push('network');
		if (!clockKnown) m.push('clock');
		if (registration === 'needed' || registration === 'running') m.push('registration');
		return m;
	};

	/** The one place the link is started and stopped: from the conditions above. */
	const advance = () => {
		const m = missing();
		if (robot && identity && registration === 'needed' && network?.up && clockKnown) void runRegistration(robot.thing);
		if (m.length === 0 && !linkOn && robot && identity) {
			linkOn = true;
			waitingFor = '';
			robot.start();
			return;
		}
		if (linkOn && m.length > 0) {
			// the network went away: the link stops; it starts again from its backoff when it is back
			linkOn = false;
			robot?.link.stop();
		}
		const w = m.join(',');
		if (w && w !== waitingFor) log.log('warn', 'main.waiting', { for: w });
		waitingFor = w;
	};

	let identity: Identity | undefined;
	const runRegistration = async (thing: string) => {
		const url = ports.onboarding.registrationUrl();
		if (!url.ok || !identity) return;
		registration = 'running';
		const host = /^https:\/\/([^/:]+)/.exec(url.value)?.[1] ?? '';
		// an address has no name to check the certificate against: the endpoint's server name serves (a local cloud)
		const serverName = /^[\d.]+$/.test(host) ? endpoint?.tls.serverName : undefined;
		const r = await register(
			{
				http: createModdableHttpPort({ ca: identity.ca, ...(serverName ? { serverName } : {}) }),
				deviceKey: createModdableDeviceKey(identity.key),
				crypto: moddableCrypto,
				clock,
				timers: base.timers,
				random: base.random,
				storage: base.storage,
				log,
			},
			{ url: url.value, thing, certificate: identity.certificates[0]!, ...config.registration },
		);
		if (r.ok) registration = 'done';
		else if (r.error.code === 'refused') {
			// final for this certificate: say so, and try the broker anyway (it may know the robot already)
			once('main.registration_refused', { reason: r.error.reason, message: r.error.message });
			registration = 'done';
		} else {
			log.log('warn', 'main.registration_gave_up', { attempts: r.error.attempts, last: r.error.last });
			registration = 'needed';
			base.timers.set(advance, config.retryMs);
			return;
		}
		advance();
	};

	/** Reads the endpoint record; while it is missing or refused, says so once and reads it again later. */
	const readEndpoint = () => {
		if (!robot) return;
		const e = ports.onboarding.endpoint();
		if (e.ok) return setEndpoint(e.value);
		once(e.missing ? 'main.no_endpoint' : 'main.bad_endpoint', { message: e.reason });
		base.timers.set(readEndpoint, config.retryMs);
		advance();
	};
	/** Points the robot's link at `e`; a change takes effect at once (the link reads its endpoint at every connect). */
	const setEndpoint = (e: Endpoint) => {
		if (!endpoint) return;
		const changed = endpointKnown && (endpoint.host !== e.host || endpoint.port !== e.port);
		endpoint.host = e.host;
		endpoint.port = e.port;
		if (e.serverName) endpoint.tls.serverName = e.serverName;
		else delete endpoint.tls.serverName;
		endpointKnown = true;
		log.log('info', 'main.endpoint', { host: e.host, port: e.port, ...(changed ? { changed } : {}) });
		if (changed && linkOn && robot) {
			robot.link.stop();
			robot.link.start();
		}
		advance();
	};

	/** Takes credentials read from storage: the link's TLS and registration follow them. */
	const takeIdentity = (c: Identity, thing: string): boolean => {
		if (c.thing !== thing) {
			// credentials of another robot: the reports written under this name must not go out as that one
			once('main.wrong_thing', { running: thing, certificate: c.thing });
			return false;
		}
		identity = c;
		// the link reads this object at every connect (as the renewer's swap does)
		if (holder) Object.assign(holder.tls, { ca: c.ca, certificates: c.certificates, key: c.key });
		const kept = rememberName(base.storage, c.thing);
		if (kept && !kept.ok) log.log('warn', 'main.name_not_kept', { error: kept.error, message: kept.message });
		const url = ports.onboarding.registrationUrl();
		if (url.ok) registration = isRegistered({ storage: base.storage, crypto: moddableCrypto }, c.thing, c.certificates[0]!) ? 'done' : 'needed';
		else if (!url.missing) once('main.bad_registration_url', { message: url.reason });
		return true;
	};
	/** The credentials, or undefined (said once); a build made for another robot must not connect as this one. */
	const readIdentity = (): Identity | undefined => {
		const c = ports.credentials();
		if (typeof c === 'string') {
			once('main.no_credentials', { message: c });
			return undefined;
		}
		if (config.thing && config.thing !== c.thing) {
			once('main.wrong_thing', { configured: config.thing, certificate: c.thing });
			return undefined;
		}
		return c;
	};
	// the key-bound parts read the identity when they run: the robot exists before its credentials
	let holder: { host: string; port: number; tls: TlsCredentials & { serverName?: string } } | undefined;
	let key: { of: Uint8Array; port: DeviceKeyPort } | undefined;
	const deviceKey = (): DeviceKeyPort => {
		if (!identity) throw new Error('no device credentials');
		if (key?.of !== identity.key) key = { of: identity.key, port: createModdableDeviceKey(identity.key) };
		return key.port;
	};
	const lazyKey: DeviceKeyPort = {
		get modulusBytes() {
			return deviceKey().modulusBytes;
		},
		rsaPrivateRaw: (block) => deviceKey().rsaPrivateRaw(block),
		signSha256: (data) => deviceKey().signSha256(data),
	};
	const lazyHttp: HttpPort = {
		request: (req) => (identity ? createModdableHttpPort({ ca: identity.ca }).request(req) : Promise.resolve({ ok: false as const, error: 'no device credentials' })),
	};

	const boot = (): boolean => {
		const c = readIdentity();
		const name = robotName(base.storage, c?.thing, config.thing || undefined);
		if (!name) return false;
		const thing = name.thing;
		if (c) takeIdentity(c, thing);
		else log.log('warn', 'main.offline_name', { thing, source: name.source });
		holder = {
			host: '',
			port: 0,
			tls: { ...(identity ? { ca: identity.ca, certificates: identity.certificates, key: identity.key } : {}) } as TlsCredentials & { serverName?: string },
		};
		const ota = moddableOta({
			http: lazyHttp,
			log,
			storage: base.storage,
			onReboot: () => {
				r.stop();
				// on lin the app cannot restart itself: whoever runs it starts it again over the same files
				trace('step ' + JSON.stringify({ event: 'reboot' }) + '\n');
			},
		});
		if (typeof ota === 'string') log.log('warn', 'main.no_ota', { message: ota });
		// the home's floor plan is the robot's own: seeded by its name (as tools/sim/robot.ts)
		const seed = [...thing].reduce((h, ch) => (Math.imul(h, 31) + ch.charCodeAt(0)) | 0, 7);
		const mapBytes = config.mapBytes;
		const upload: RobotUpload | undefined = mapBytes > 0 ? { crypto: moddableCrypto, deviceKey: lazyKey, http: lazyHttp, map: (job) => simulatedMap({ seed, areaM2: job.areaM2, ...squareFor(mapBytes) }) } : undefined;
		const r = createRobot(
			linkPorts,
			{
				thing,
				endpoint: holder,
				...(config.link || config.outbox ? { link: { ...config.link, ...(config.outbox ? { outbox: { ...DEFAULT_OUTBOX, ...config.outbox } } : {}) } } : {}),
				...(config.shadowTimeoutMs ? { shadowTimeoutMs: config.shadowTimeoutMs } : {}),
				...(typeof ota === 'string' ? {} : { ota }),
				...(upload ? { upload } : {}),
				// the owner's app: commands (AWS IoT commands) and pairing at setup
				commands: { rooms: HOME_ROOMS },
				// the robot's own log lines (platform.ts keeps every line in the ring), shipped on request
				logs: { ring: base.ring },
				pairing: { crypto: moddableCrypto },
				...(ports.health ? { health: { port: ports.health } } : {}),
				// a new certificate for the same key before this one expires (core/renew); kept in the robot's storage.
				// A robot booted without credentials: the renewer takes the certificate takeIdentity puts in holder.tls when the robot starts
				renew: { deviceKey: lazyKey },
			},
			missionPorts,
		);
		const model = config.missions.stuckRate === undefined ? TYPICAL_HOME : { ...TYPICAL_HOME, stuckRate: config.missions.stuckRate };
		const sim = new CleaningSimulator(r.missions, { timers: missionPorts.timers, random: missionPorts.random, log }, model);
		r.onDue((d) => sim.run('schedule', d.entryId, (d.mode as 'vacuum' | 'mop' | 'both' | undefined) ?? 'vacuum'));
		// a command-started mission runs on the same cleaning engine and mission machine as a scheduled one
		r.commands!.bind(simCommandActions(sim, log));
		robot = r;
		endpoint = holder;
		target = robotTarget(r, {
			startMission: () => sim.run('button'),
			clock: jumpable,
			firmware: () => r.ota?.agent.version,
			endpoint(record, server) {
				const e = ports.onboarding.setEndpoint(record, server);
				if (!e.ok) throw new Error(e.reason);
				setEndpoint(e.value);
			},
			...(ports.selfTest ? { selfTest: ports.selfTest } : {}),
			status: () => ({ network: network?.up === true, registration, waitingFor, endpoint: endpointKnown && endpoint ? endpoint.host + ':' + endpoint.port : null }),
		});
		log.log('info', 'main.boot', { thing, firmware: r.ota?.agent.version ?? 'no-ota', pendingReports: r.missions.pendingReports(), outbox: r.link.outbox.size });
		return true;
	};
	if (test) startTestCommands({ target: () => target, log, transport: test });
	/** Without a name there is no robot; read again every retryMs until it is there. */
	const tryBoot = () => {
		if (boot()) {
			if (!identity) base.timers.set(tryIdentity, config.retryMs);
			return readEndpoint();
		}
		advance();
		base.timers.set(tryBoot, config.retryMs);
	};
	/** The robot runs offline under its name; its credentials are read again every retryMs until they hold. */
	const tryIdentity = () => {
		const c = readIdentity();
		if (c && robot && takeIdentity(c, robot.thing)) {
			log.log('info', 'main.identity', { thing: c.thing });
			return advance();
		}
		base.timers.set(tryIdentity, config.retryMs);
	};

	network = ports.startNetwork({
		log,
		onChange(up) {
			log.log(up ? 'info' : 'warn', up ? 'main.network_up' : 'main.network_down', {});
			advance();
		},
	});
	if (config.sntp.length)
		startSntp({
			hosts: config.sntp,
			log,
			onTime: () => {
				clockKnown = clock.now() !== undefined;
				advance();
			},
		});
	else if (!clockKnown) once('main.no_clock', { message: 'clock unknown and no SNTP server configured: the link cannot check certificates' });
	tryBoot();
}
