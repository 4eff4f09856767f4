/*
 * The robot on Moddable, assembled once (issue #19): firmware/main.ts reads configuration and
 * credentials and calls startRobot; a test build is the same call with test configuration
 * (config.testcmd, a jumpable clock, shorter timeouts, a faster mission clock), never a
 * second wiring. Here: the robot of the core (link, schedule sync and runner, missions, map
 * uploads after every report through the same uploader and durable queue as the simulator,
 * OTA), the cleaning model as the mission driver (the schedule starts missions, a test may
 * press the button), first-boot registration, the network and SNTP. Test control, its clock
 * and the self-test vectors are in testcmd/kit.ts, loaded by name only when config.testcmd is set
 * (issue #20: the production image neither carries nor instantiates them).
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
import Modules from 'modules';
import { createRobot, type Robot, type RobotUpload } from '../../core/robot/robot';
import type { LinkOptions } from '../../core/link/link';
import type { OutboxLimits } from '../../core/link/outbox';
import { DEFAULT_OUTBOX } from '../../core/link/outbox';
import type { BackoffPolicy } from '../../core/link/backoff';
import { isRegistered, register } from '../../core/registration/registration';
import type { Endpoint } from '../../core/robot/onboarding';
import { rememberName, robotName } from '../../core/robot/name';
import type { JumpableClock, TestTarget } from '../../core/testcmd/control';
import type { ClockPort, DeviceKeyPort, HealthPort, HttpPort, LogFields, TlsCredentials } from '../../ports';
import { CleaningSimulator, HOME_ROOMS, simCommandActions, TYPICAL_HOME } from '../../sim/cleaning';
import { scaledPorts, type SimPorts } from '../../sim/clock';
import { seededRandom } from '../portable/random';
import { simulatedMap, squareFor } from '../../sim/map';
import { createModdableDeviceKey, moddableCrypto } from './crypto';
import { moddableOta } from './firmware';
import { createModdableHttpPort } from './http';
import type { Read } from './onboarding';
import type { NetworkHandle, NetworkOptions } from './network/network';
import { startSntp } from './sntp';
import type { TransportOptions } from './testcmd/testcmd';
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
	/** The platform's health figures (platform/moddable/health.ts): reported on the status shadow (core/health). */
	readonly health?: HealthPort;
}

type Platform = StartPorts['platform'];
type TestKit = typeof import('./testcmd/kit');
type Condition = 'identity' | 'endpoint' | 'network' | 'clock' | 'registration';
/** The object the link reads at every connect; the identity and the endpoint record fill it in place. */
type Holder = { host: string; port: number; tls: TlsCredentials & { serverName?: string } };

/** The test build's module (manifest.testcmd.json maps and preloads it; the product's manifest does not). */
const TEST_KIT = 'firmware/platform/moddable/testcmd/kit';

/**
 * A test build (config.testcmd) loads test control by name, synchronously (Modules.importNow), so the
 * start runs where it always ran, inside main's module body: started from a promise job instead,
 * mcsim died with SIGSEGV during boot in the sntp and schedule-offline-edit scenarios.
 */
export function startRobot(config: StartConfig, ports: StartPorts): void {
	let kit: TestKit | undefined;
	if (config.testcmd) {
		if (!Modules.has(TEST_KIT)) throw new Error('config.testcmd is set, but this image has no test control: build it with manifest.testcmd.json included');
		kit = Modules.importNow(TEST_KIT, true) as TestKit;
	}
	new RobotStart(config, ports, kit).start();
}

/** The clocks: the link's, the missions' (scaled by msPerMin) and, in a test build, one a test may jump. */
function robotClocks(config: StartConfig, base: Platform, kit: TestKit | undefined): { clock: ClockPort; link: Platform; missions: SimPorts; jumpable?: JumpableClock } {
	const random = config.missions.seed === undefined ? base.random : seededRandom(config.missions.seed);
	if (!kit) return { clock: base.clock, link: base, missions: scaledPorts({ ...base, random }, config.missions.msPerMin) };
	// a test's clock-jump moves the wall clock the link and the missions read; the monotonic clock stays
	const linkClock = kit.jumpableClock(base.clock);
	const link = { ...base, clock: linkClock.clock };
	const scaled = scaledPorts({ ...link, random }, config.missions.msPerMin);
	const missionClock = kit.jumpableClock(scaled.clock);
	const jumpable = kit.jumpingTogether(linkClock, missionClock);
	return { clock: linkClock.clock, link, missions: { ...scaled, clock: missionClock.clock }, jumpable };
}

/** The key-bound ports read the identity when they run: the robot exists before its credentials. */
function identityPorts(current: () => Identity | undefined): { deviceKey: DeviceKeyPort; http: HttpPort } {
	let key: { of: Uint8Array; port: DeviceKeyPort } | undefined;
	const port = (): DeviceKeyPort => {
		const id = current();
		if (!id) throw new Error('no device credentials');
		if (key?.of !== id.key) key = { of: id.key, port: createModdableDeviceKey(id.key) };
		return key.port;
	};
	return {
		deviceKey: {
			get modulusBytes() {
				return port().modulusBytes;
			},
			rsaPrivateRaw: (block) => port().rsaPrivateRaw(block),
			signSha256: (data) => port().signSha256(data),
		},
		http: {
			request: (req) => {
				const id = current();
				return id ? createModdableHttpPort({ ca: id.ca }).request(req) : Promise.resolve({ ok: false as const, error: 'no device credentials' });
			},
		},
	};
}

/** One robot's start, in phases: boot (name, identity, robot), endpoint, registration, network and clock, then the link. */
class RobotStart {
	readonly #config: StartConfig;
	readonly #ports: StartPorts;
	readonly #base: Platform;
	readonly #kit: TestKit | undefined;
	readonly #clocks: ReturnType<typeof robotClocks>;
	readonly #keyed: ReturnType<typeof identityPorts>;
	#robot: Robot | undefined;
	#target: TestTarget | undefined;
	#network: NetworkHandle | undefined;
	/** The robot's endpoint, filled from the record; the Link keeps this object and reads it at every connect. */
	#endpoint: Holder | undefined;
	#endpointKnown = false;
	#identity: Identity | undefined;
	#registration: 'none' | 'needed' | 'running' | 'done' = 'none';
	#linkOn = false;
	#clockKnown: boolean;
	#waitingFor = '';
	readonly #said = new Set<string>();

	constructor(config: StartConfig, ports: StartPorts, kit: TestKit | undefined) {
		this.#config = config;
		this.#ports = ports;
		this.#base = ports.platform;
		this.#kit = kit;
		this.#clocks = robotClocks(config, ports.platform, kit);
		this.#clockKnown = this.#clocks.clock.now() !== undefined;
		this.#keyed = identityPorts(() => this.#identity);
	}

	start(): void {
		const log = this.#base.log;
		if (this.#kit) this.#kit.startTestCommands({ target: () => this.#target, log, transport: this.#config.testcmd! });
		this.#network = this.#ports.startNetwork({
			log,
			onChange: (up) => {
				log.log(up ? 'info' : 'warn', up ? 'main.network_up' : 'main.network_down', {});
				this.#advance();
			},
		});
		if (this.#config.sntp.length)
			startSntp({
				hosts: this.#config.sntp,
				log,
				onTime: () => {
					this.#clockKnown = this.#clocks.clock.now() !== undefined;
					this.#advance();
				},
			});
		else if (!this.#clockKnown) this.#once('main.no_clock', { message: 'clock unknown and no SNTP server configured: the link cannot check certificates' });
		this.#tryBoot();
	}

	/** Logs a problem with a record once (until it changes). */
	#once(event: string, fields: LogFields): void {
		const key = event + JSON.stringify(fields);
		if (this.#said.has(key)) return;
		this.#said.add(key);
		this.#base.log.log('error', event, fields);
	}

	#missing(): Condition[] {
		const m: Condition[] = [];
		if (!this.#robot || !this.#identity) m.push('identity');
		if (!this.#endpointKnown) m.push('endpoint');
		if (!this.#network?.up) m.push('network');
		if (!this.#clockKnown) m.push('clock');
		if (this.#registration === 'needed' || this.#registration === 'running') m.push('registration');
		return m;
	}

	/** The one place the link is started and stopped: from the conditions above. */
	#advance(): void {
		const m = this.#missing();
		const robot = this.#robot;
		if (robot && this.#identity && this.#registration === 'needed' && this.#network?.up && this.#clockKnown) void this.#runRegistration(robot.thing);
		if (m.length === 0 && !this.#linkOn && robot && this.#identity) {
			this.#linkOn = true;
			this.#waitingFor = '';
			robot.start();
			return;
		}
		if (this.#linkOn && m.length > 0) {
			// the network went away: the link stops; it starts again from its backoff when it is back
			this.#linkOn = false;
			robot?.link.stop();
		}
		const w = m.join(',');
		if (w && w !== this.#waitingFor) this.#base.log.log('warn', 'main.waiting', { for: w });
		this.#waitingFor = w;
	}

	async #runRegistration(thing: string): Promise<void> {
		const url = this.#ports.onboarding.registrationUrl();
		const identity = this.#identity;
		if (!url.ok || !identity) return;
		this.#registration = 'running';
		const base = this.#base;
		const host = /^https:\/\/([^/:]+)/.exec(url.value)?.[1] ?? '';
		// an address has no name to check the certificate against: the endpoint's server name serves (a local cloud)
		const serverName = /^[\d.]+$/.test(host) ? this.#endpoint?.tls.serverName : undefined;
		const r = await register(
			{
				http: createModdableHttpPort({ ca: identity.ca, ...(serverName ? { serverName } : {}) }),
				deviceKey: createModdableDeviceKey(identity.key),
				crypto: moddableCrypto,
				clock: this.#clocks.clock,
				timers: base.timers,
				random: base.random,
				storage: base.storage,
				log: base.log,
			},
			{ url: url.value, thing, certificate: identity.certificates[0]!, ...this.#config.registration },
		);
		if (r.ok) this.#registration = 'done';
		else if (r.error.code === 'refused') {
			// final for this certificate: say so, and try the broker anyway (it may know the robot already)
			this.#once('main.registration_refused', { reason: r.error.reason, message: r.error.message });
			this.#registration = 'done';
		} else {
			base.log.log('warn', 'main.registration_gave_up', { attempts: r.error.attempts, last: r.error.last });
			this.#registration = 'needed';
			base.timers.set(() => this.#advance(), this.#config.retryMs);
			return;
		}
		this.#advance();
	}

	/** Reads the endpoint record; while it is missing or refused, says so once and reads it again later. */
	#readEndpoint(): void {
		if (!this.#robot) return;
		const e = this.#ports.onboarding.endpoint();
		if (e.ok) return this.#setEndpoint(e.value);
		this.#once(e.missing ? 'main.no_endpoint' : 'main.bad_endpoint', { message: e.reason });
		this.#base.timers.set(() => this.#readEndpoint(), this.#config.retryMs);
		this.#advance();
	}

	/** Points the robot's link at `e`; a change takes effect at once (the link reads its endpoint at every connect). */
	#setEndpoint(e: Endpoint): void {
		const endpoint = this.#endpoint;
		if (!endpoint) return;
		const changed = this.#endpointKnown && (endpoint.host !== e.host || endpoint.port !== e.port);
		endpoint.host = e.host;
		endpoint.port = e.port;
		if (e.serverName) endpoint.tls.serverName = e.serverName;
		else delete endpoint.tls.serverName;
		this.#endpointKnown = true;
		this.#base.log.log('info', 'main.endpoint', { host: e.host, port: e.port, ...(changed ? { changed } : {}) });
		if (changed && this.#linkOn && this.#robot) {
			this.#robot.link.stop();
			this.#robot.link.start();
		}
		this.#advance();
	}

	/** Takes credentials read from storage: the link's TLS and registration follow them. */
	#takeIdentity(c: Identity, thing: string): boolean {
		if (c.thing !== thing) {
			// credentials of another robot: the reports written under this name must not go out as that one
			this.#once('main.wrong_thing', { running: thing, certificate: c.thing });
			return false;
		}
		const base = this.#base;
		this.#identity = c;
		// the link reads this object at every connect (as the renewer's swap does)
		if (this.#endpoint) Object.assign(this.#endpoint.tls, { ca: c.ca, certificates: c.certificates, key: c.key });
		const kept = rememberName(base.storage, c.thing);
		if (kept && !kept.ok) base.log.log('warn', 'main.name_not_kept', { error: kept.error, message: kept.message });
		const url = this.#ports.onboarding.registrationUrl();
		if (url.ok) this.#registration = isRegistered({ storage: base.storage, crypto: moddableCrypto }, c.thing, c.certificates[0]!) ? 'done' : 'needed';
		else if (!url.missing) this.#once('main.bad_registration_url', { message: url.reason });
		return true;
	}

	/** The credentials, or undefined (said once); a build made for another robot must not connect as this one. */
	#readIdentity(): Identity | undefined {
		const c = this.#ports.credentials();
		if (typeof c === 'string') {
			this.#once('main.no_credentials', { message: c });
			return undefined;
		}
		if (this.#config.thing && this.#config.thing !== c.thing) {
			this.#once('main.wrong_thing', { configured: this.#config.thing, certificate: c.thing });
			return undefined;
		}
		return c;
	}

	/** Without a name there is no robot; read again every retryMs until it is there. */
	#tryBoot(): void {
		if (this.#boot()) {
			if (!this.#identity) this.#base.timers.set(() => this.#tryIdentity(), this.#config.retryMs);
			return this.#readEndpoint();
		}
		this.#advance();
		this.#base.timers.set(() => this.#tryBoot(), this.#config.retryMs);
	}

	/** The robot runs offline under its name; its credentials are read again every retryMs until they hold. */
	#tryIdentity(): void {
		const c = this.#readIdentity();
		if (c && this.#robot && this.#takeIdentity(c, this.#robot.thing)) {
			this.#base.log.log('info', 'main.identity', { thing: c.thing });
			return this.#advance();
		}
		this.#base.timers.set(() => this.#tryIdentity(), this.#config.retryMs);
	}

	/** The name, the identity if there is one, the robot, its mission driver and (test builds) its test target. */
	#boot(): boolean {
		const base = this.#base;
		const c = this.#readIdentity();
		const name = robotName(base.storage, c?.thing, this.#config.thing || undefined);
		if (!name) return false;
		const thing = name.thing;
		this.#endpoint = { host: '', port: 0, tls: {} as Holder['tls'] };
		if (c) this.#takeIdentity(c, thing);
		else base.log.log('warn', 'main.offline_name', { thing, source: name.source });
		const r = this.#createRobot(thing);
		const sim = this.#driveMissions(r);
		this.#robot = r;
		if (this.#kit) this.#target = this.#testTarget(this.#kit, r, sim);
		base.log.log('info', 'main.boot', { thing, firmware: r.ota?.agent.version ?? 'no-ota', pendingReports: r.missions.pendingReports(), outbox: r.link.outbox.size });
		return true;
	}

	/** The robot of the core over this platform: OTA, map uploads, commands, logs, pairing, health, renewal. */
	#createRobot(thing: string): Robot {
		const config = this.#config;
		const base = this.#base;
		const ota = moddableOta({
			http: this.#keyed.http,
			log: base.log,
			storage: base.storage,
			onReboot: () => {
				r.stop();
				// on lin the app cannot restart itself: whoever runs it starts it again over the same files
				trace('step ' + JSON.stringify({ event: 'reboot' }) + '\n');
			},
		});
		if (typeof ota === 'string') base.log.log('warn', 'main.no_ota', { message: ota });
		const r = createRobot(
			this.#clocks.link,
			{
				thing,
				endpoint: this.#endpoint!,
				...(config.link || config.outbox ? { link: { ...config.link, ...(config.outbox ? { outbox: { ...DEFAULT_OUTBOX, ...config.outbox } } : {}) } } : {}),
				...(config.shadowTimeoutMs ? { shadowTimeoutMs: config.shadowTimeoutMs } : {}),
				...(typeof ota === 'string' ? {} : { ota }),
				...this.#upload(thing),
				// the owner's app: commands (AWS IoT commands) and pairing at setup
				commands: { rooms: HOME_ROOMS },
				// the robot's own log lines (platform.ts keeps every line in the ring), shipped on request
				logs: { ring: base.ring },
				pairing: { crypto: moddableCrypto },
				...(this.#ports.health ? { health: { port: this.#ports.health } } : {}),
				// a new certificate for the same key before this one expires (core/renew); kept in the robot's storage.
				// A robot booted without credentials: the renewer takes the certificate takeIdentity puts in the endpoint's tls when the robot starts
				renew: { deviceKey: this.#keyed.deviceKey },
			},
			this.#clocks.missions,
		);
		return r;
	}

	/** Map uploads after every mission: the home's floor plan is the robot's own, seeded by its name (as tools/sim/robot.ts). */
	#upload(thing: string): { upload?: RobotUpload } {
		const mapBytes = this.#config.mapBytes;
		if (!(mapBytes > 0)) return {};
		const seed = [...thing].reduce((h, ch) => (Math.imul(h, 31) + ch.charCodeAt(0)) | 0, 7);
		return { upload: { crypto: moddableCrypto, deviceKey: this.#keyed.deviceKey, http: this.#keyed.http, map: (job) => simulatedMap({ seed, areaM2: job.areaM2, ...squareFor(mapBytes) }) } };
	}

	/** The cleaning model drives the missions the schedule and the app's commands start. */
	#driveMissions(r: Robot): CleaningSimulator {
		const ports = this.#clocks.missions;
		const stuckRate = this.#config.missions.stuckRate;
		const model = stuckRate === undefined ? TYPICAL_HOME : { ...TYPICAL_HOME, stuckRate };
		const sim = new CleaningSimulator(r.missions, { timers: ports.timers, random: ports.random, log: this.#base.log }, model);
		r.onDue((d) => sim.run('schedule', d.entryId, (d.mode as 'vacuum' | 'mop' | 'both' | undefined) ?? 'vacuum'));
		// a command-started mission runs on the same cleaning engine and mission machine as a scheduled one
		r.commands!.bind(simCommandActions(sim, this.#base.log));
		return sim;
	}

	/** What test control drives (a test build only): the button, the clock, the endpoint record, the self-test. */
	#testTarget(kit: TestKit, r: Robot, sim: CleaningSimulator): TestTarget {
		return kit.robotTarget(r, {
			startMission: () => sim.run('button'),
			clock: this.#clocks.jumpable!,
			firmware: () => r.ota?.agent.version,
			endpoint: (record, server) => {
				const e = this.#ports.onboarding.setEndpoint(record, server);
				if (!e.ok) throw new Error(e.reason);
				this.#setEndpoint(e.value);
			},
			selfTest: () => ({ ...kit.runSelfTest() }),
			status: () => ({
				network: this.#network?.up === true,
				registration: this.#registration,
				waitingFor: this.#waitingFor,
				endpoint: this.#endpointKnown && this.#endpoint ? this.#endpoint.host + ':' + this.#endpoint.port : null,
			}),
		});
	}
}
