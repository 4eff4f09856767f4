/*
 * The robot's connectivity, assembled once for every platform: the link, the
 * `schedule` shadow kept in sync offline-first, the runner that says when a
 * mission is due, the missions with their durable reports and, when `upload` is
 * given, the maps those reports promise (core/maps/queue.ts states the policy)
 * and, when `ota` is given, firmware updates through IoT Jobs whose self-test is
 * this robot's own health: link up and the schedule shadow synced. An update never
 * reboots the robot mid-mission: the reboot waits until the missions are idle (the
 * report is then on storage), whether it installs an image or rolls one back.
 * The device (firmware/main.ts) and the simulator (tools/start.ts, hil-tests)
 * differ only in the ports they pass.
 */
import type { CodeSigningPort, CryptoPort, DeviceKeyPort, FirmwareSlotPort, HealthPort, HttpPort, LogPort, SocketOptions } from '../../ports';
import { Link, type LinkListener, type LinkOptions, type LinkPorts } from '../link/link';
import type { LinkState } from '../link/machine';
import { ShadowClient } from '../shadow/client';
import { ShadowSync } from '../shadow/sync';
import { EMPTY_SCHEDULE, SCHEDULE_SHADOW, scheduleCodec } from '../schedule/shadow';
import type { Schedule } from '../schedule/model';
import { ScheduleRunner, type Due } from '../schedule/runner';
import { Missions, type MissionOptions, type MissionPorts } from '../mission/missions';
import { MapUploader, type MapSource, type UploaderOptions } from '../maps/uploader';
import { MapQueue, type MapJob, type MapQueueOptions } from '../maps/queue';
import { createOta, STATUS_SHADOW, type Ota } from '../ota/ota';
import { HealthReporter } from '../health/reporter';
import type { HealthPolicy } from '../health/policy';
import { RobotCommands, type CommandsOptions } from '../commands/handler';
import { RoomsReporter } from '../commands/rooms';
import type { LogRing } from '../log/ring';
import { LogShipper, type ShipperOptions } from '../log/ship';
import { beginPairing } from '../pairing/pairing';
import { Renewer, type RenewPolicy } from '../renew/renewer';

/** What map uploads need: the primitives, the device's own key, HTTP and the maps themselves. */
export interface RobotUpload {
	readonly crypto: CryptoPort;
	readonly deviceKey: DeviceKeyPort;
	readonly http: HttpPort;
	/** The map of a finished mission, read from its first byte; undefined when it is gone. */
	map(job: MapJob): MapSource | undefined;
	readonly uploader?: UploaderOptions;
	readonly queue?: MapQueueOptions;
}

/** What firmware updates need: the slots, code signing, HTTP for the image, the certificate it must be signed with. */
export interface RobotOta {
	readonly slot: FirmwareSlotPort;
	readonly signing: CodeSigningPort;
	readonly http: HttpPort;
	/** DER X.509 code-signing certificate (EC P-256); public, built into the firmware. */
	readonly certificate: Uint8Array;
	/** URL prefixes firmware images may come from (https; http only on loopback: core/ota/document.ts). */
	readonly sources: readonly string[];
	/** The product id signed manifests must name (core/ota/document.ts PRODUCT by default). */
	readonly product?: string;
	/** This build's security counter: signed manifests below it are refused. */
	readonly securityCounter?: number;
	readonly selfTest: {
		/** A new image that is not connected with its schedule synced by then is rolled back (FAILED). */
		readonly deadlineMs: number;
		readonly pollMs?: number;
		/** A further condition on top of link and schedule (a board's own checks, a test's fault). */
		readonly also?: () => boolean;
	};
	readonly retryMs?: (attempt: number) => number;
	readonly downloadTimeoutMs?: number;
}

export interface RobotConfig {
	/** AWS IoT thing name = certificate CN = MQTT client id. */
	readonly thing: string;
	readonly endpoint: SocketOptions;
	readonly link?: Partial<Omit<LinkOptions, 'endpoint' | 'clientId'>>;
	readonly shadowTimeoutMs?: number;
	readonly missions?: MissionOptions;
	/** Upload a map after every report that says `map: 'pending'`; without it no map is sent. */
	readonly upload?: RobotUpload;
	/** Run the OTA agent; without it the robot takes no firmware jobs. */
	readonly ota?: RobotOta;
	/** Take commands from the app (AWS IoT commands); without it the robot subscribes to none. */
	readonly commands?: CommandsOptions;
	/**
	 * Ship this ring of the robot's own log lines on request (core/log/ship.ts). The caller
	 * made `ports.log` write into it (ringLog), so lines logged before the robot existed are in it too.
	 */
	readonly logs?: { readonly ring: LogRing; readonly shipping?: ShipperOptions };
	/** Pairing with an owner at setup (its code needs strong random bytes and SHA-256). */
	readonly pairing?: { readonly crypto: CryptoPort; readonly ttlS?: number };
	/**
	 * Report health on the status shadow (core/health), at most every `policy.minIntervalMs` and only
	 * on a change; `firmware` names the image when there is no OTA agent to ask.
	 */
	readonly health?: { readonly port: HealthPort; readonly firmware?: string; readonly policy?: HealthPolicy };
	/** Renew the certificate before it expires (core/renew), for the same key: needs `endpoint.tls`. */
	readonly renew?: { readonly deviceKey: DeviceKeyPort; readonly policy?: Partial<RenewPolicy> };
}

export interface Robot {
	readonly thing: string;
	readonly link: Link;
	readonly schedule: ShadowSync<Schedule>;
	readonly runner: ScheduleRunner;
	readonly missions: Missions;
	/** The maps owed and their uploads; present when `config.upload` was given. */
	readonly maps: MapQueue | undefined;
	/** The OTA agent, its jobs client and status shadow; present when `config.ota` was given. */
	readonly ota: Ota | undefined;
	/** The app's commands; present when `config.commands` was given (its actions are bound by the platform). */
	readonly commands: RobotCommands | undefined;
	/** The robot's log ring; present when `config.logs` was given. */
	readonly logs: LogRing | undefined;
	/** The health reporter; present when `config.health` was given. */
	readonly health: HealthReporter | undefined;
	/** Certificate renewal; present when `config.renew` was given. */
	readonly renewer: Renewer | undefined;
	/**
	 * Makes a pairing code for the owner's app and reports its digest (firmware/core/pairing):
	 * the code to show, or why none was made. Needs `config.pairing`.
	 */
	beginPairing(): ReturnType<typeof beginPairing>;
	/** Called when the schedule says a mission is due. */
	onDue(handler: (d: Due) => void): void;
	start(): void;
	stop(): void;
}

/** `missionPorts` lets a simulator run missions on a faster clock than the link's. */
export function createRobot(ports: LinkPorts, config: RobotConfig, missionPorts: MissionPorts = ports): Robot {
	const link = new Link(ports, { ...config.link, endpoint: config.endpoint, clientId: config.thing });
	let maps: MapQueue | undefined;
	if (config.upload) {
		const u = config.upload;
		// real time for slot timeouts and retries, even when missions run on a fast clock
		const uploader = new MapUploader(link, { crypto: u.crypto, deviceKey: u.deviceKey, http: u.http, timers: ports.timers, random: ports.random, log: ports.log }, config.thing, u.uploader);
		maps = new MapQueue(uploader, link, { storage: missionPorts.storage, clock: ports.clock, timers: ports.timers, random: ports.random, log: ports.log }, (job) => u.map(job), u.queue);
	}
	const queue = maps;
	const missions = new Missions(config.thing, link, missionPorts, config.missions, {
		// owed before the report exists, so no report promises a map nobody will send
		beforeReport: (r) => {
			if (queue && r.map === 'pending') queue.add({ missionId: r.missionId, areaM2: r.areaM2 });
		},
	});
	// after the report is written (and queued for the broker): the map follows it
	if (queue) missions.listen((_s, effects) => effects.some((fx) => fx.type === 'report') && queue.kick());
	const due: ((d: Due) => void)[] = [];
	const runner = new ScheduleRunner(ports, (d) => {
		if (due.length === 0) ports.log.log('warn', 'mission.due_unhandled', { entry: d.entryId });
		for (const h of due) h(d);
	});
	const shadow = new ShadowClient(link, ports, { thing: config.thing, name: SCHEDULE_SHADOW, ...(config.shadowTimeoutMs ? { timeoutMs: config.shadowTimeoutMs } : {}) });
	const schedule = new ShadowSync(link, shadow, ports, {
		codec: scheduleCodec,
		storageKey: 'sched',
		initial: EMPTY_SCHEDULE,
		onApply: (s) => {
			ports.log.log('info', 'schedule.applied', { entries: s.entries.length, tz: s.tz });
			runner.set(s);
		},
	});
	// a command-started mission is started by the platform's cleaning engine through the same Missions
	const commands = config.commands && new RobotCommands(config.thing, link, { storage: missionPorts.storage, clock: ports.clock, log: ports.log }, () => missions.state.value, config.commands);
	if (config.logs) new LogShipper(config.thing, link, config.logs.ring, ports, config.logs.shipping);
	const ota = config.ota && wireOta(link, ports, config, { ...config.ota, slot: rebootWhenIdle(config.ota.slot, missions, ports.log) }, schedule);
	// one status shadow client per robot: the OTA agent's when there is one (two clients would take each other's reply topics)
	const status = ota?.status ?? (config.health || config.commands ? new ShadowClient(link, ports, { thing: config.thing, name: STATUS_SHADOW, ...(config.shadowTimeoutMs ? { timeoutMs: config.shadowTimeoutMs } : {}) }) : undefined);
	// health and rooms report once the schedule has synced on a connection, not in the connect burst
	const reporters = afterScheduleSync(link, schedule);
	const health = config.health && status && wireHealth(link, reporters, ports, config.health, ota, status);
	// the app offers the rooms the robot itself knows and decides commands against
	if (config.commands && status) new RoomsReporter(reporters, status, ports.log, config.commands.rooms);
	if (config.renew && !config.endpoint.tls) throw new TypeError('"renew" needs "endpoint.tls": a certificate to renew');
	// the link reads the endpoint object at every connect: the renewer swaps its tls for the new certificate
	const renewer =
		config.renew &&
		new Renewer(link, { ...ports, deviceKey: config.renew.deviceKey }, { thing: config.thing, endpoint: config.endpoint as { tls: NonNullable<SocketOptions['tls']> }, ...(config.renew.policy ? { policy: config.renew.policy } : {}) });
	return {
		thing: config.thing,
		link,
		schedule,
		runner,
		missions,
		maps,
		ota,
		commands,
		logs: config.logs?.ring,
		health,
		renewer,
		beginPairing() {
			if (!config.pairing) throw new Error('beginPairing: the robot was made without config.pairing');
			const r = beginPairing(link, { crypto: config.pairing.crypto, clock: ports.clock }, config.thing, config.pairing.ttlS);
			ports.log.log('info', 'pairing.begun', r.ok ? { expiresAt: r.value.expiresAt } : { error: r.error.code });
			return r;
		},
		onDue: (h) => void due.push(h),
		start() {
			health?.start();
			renewer?.start();
			link.start();
		},
		stop() {
			health?.stop();
			renewer?.stop();
			runner.stop();
			maps?.stop();
			link.stop();
		},
	};
}

type LinkView = { listen(l: LinkListener): () => void; readonly state: LinkState };

/**
 * The link as the status reporters (health, rooms) see it: connected once the schedule's first
 * read on this connection is over (synced, or failed and waiting to retry). Their first reports
 * then follow the schedule's get instead of joining it: at connect five requests were in flight at
 * once (OTA report, schedule get, jobs, health, rooms), each holding 100 to 150 slots until its
 * reply, which took the ESP32's slot heap to its limit (issue #20, docs/flashing.md).
 */
function afterScheduleSync(link: Link, schedule: ShadowSync<Schedule>): LinkView {
	const listeners: LinkListener[] = [];
	let open = false;
	const settled = () => schedule.state.value === 'synced' || schedule.state.value === 'backoff';
	const view = (): LinkState => (link.state.value !== 'connected' || open ? link.state : { value: 'connecting', attempt: 0, flaps: 0 });
	const tell = () => {
		for (const l of listeners) l.state?.(view());
	};
	link.listen({
		state: (s) => {
			if (s.value !== 'connected') open = false;
			else if (!open && settled()) open = true;
			tell();
		},
	});
	schedule.listen(() => {
		if (open || link.state.value !== 'connected' || !settled()) return;
		open = true;
		tell();
	});
	return {
		listen(l) {
			listeners.push(l);
			return () => {
				const i = listeners.indexOf(l);
				if (i >= 0) listeners.splice(i, 1);
			};
		},
		get state() {
			return view();
		},
	};
}

function wireHealth(link: Link, view: LinkView, ports: LinkPorts, h: NonNullable<RobotConfig['health']>, ota: Ota | undefined, status: ShadowClient): HealthReporter {
	const read = () => {
		const stats = link.stats;
		return {
			firmware: ota?.agent.version ?? h.firmware ?? 'unknown',
			uptimeS: Math.floor(ports.clock.monotonic() / 1000),
			rebootReason: h.port.resetReason,
			reconnects: stats.connects,
			lastLinkError: stats.lastError ?? null,
			...h.port.read(),
		};
	};
	return new HealthReporter(view, status, ports, read, h.policy);
}

function wireOta(link: Link, ports: LinkPorts, config: RobotConfig, o: RobotOta, schedule: ShadowSync<Schedule>): Ota {
	const also = o.selfTest.also ?? (() => true);
	return createOta(
		link,
		{ ...ports, slot: o.slot, signing: o.signing, http: o.http },
		{
			thing: config.thing,
			certificate: o.certificate,
			sources: o.sources,
			...(o.product !== undefined ? { product: o.product } : {}),
			...(o.securityCounter !== undefined ? { securityCounter: o.securityCounter } : {}),
			selfTest: {
				deadlineMs: o.selfTest.deadlineMs,
				...(o.selfTest.pollMs !== undefined ? { pollMs: o.selfTest.pollMs } : {}),
				check: () => link.state.value === 'connected' && schedule.state.value === 'synced' && also(),
			},
			...(o.retryMs ? { retryMs: o.retryMs } : {}),
			...(o.downloadTimeoutMs !== undefined ? { downloadTimeoutMs: o.downloadTimeoutMs } : {}),
			...(config.shadowTimeoutMs ? { timeoutMs: config.shadowTimeoutMs } : {}),
		},
	);
}

/** The slots with `reboot` held back while a mission runs: it happens when the missions are idle again. */
function rebootWhenIdle(slot: FirmwareSlotPort, missions: Missions, log: LogPort): FirmwareSlotPort {
	let waiting = false;
	missions.listen((s) => {
		if (!waiting || s.value !== 'idle') return;
		waiting = false;
		log.log('info', 'ota.reboot_now', { reason: 'mission ended' });
		slot.reboot();
	});
	return {
		running: () => slot.running(),
		previous: () => slot.previous(),
		begin: (version, size) => slot.begin(version, size),
		written: () => slot.written(),
		write: (offset, bytes) => slot.write(offset, bytes),
		read: (offset, length) => slot.read(offset, length),
		activate: () => slot.activate(),
		markValid: () => slot.markValid(),
		rollback: () => slot.rollback(),
		reboot() {
			if (missions.state.value === 'idle') return slot.reboot();
			if (waiting) return;
			waiting = true;
			log.log('info', 'ota.reboot_deferred', { mission: missions.state.value });
		},
	};
}
