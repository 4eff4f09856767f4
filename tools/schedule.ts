/*
 * The app side of the schedule (issue #4): reads and edits a robot's `schedule` shadow through
 * the AWS IoT data plane over HTTP, as the mobile app's backend does. The robot takes the edit
 * from `desired` when it is next online (firmware/core/shadow/reconcile.ts), reports what it
 * runs and clears `desired`; a schedule it refuses comes back in `reported.scheduleError`.
 *
 *   npm run schedule -- show --thing robot-1 [--json]
 *   npm run schedule -- set --thing robot-1 --zone Europe/Berlin \
 *       --entry "weekday:mon-fri@09:30:vacuum:kitchen+hall" --entry "weekend:sat,sun@11:00"
 *
 * An entry is `ID:DAYS@HH:MM[:MODE][:ROOMS]`:
 *   DAYS   mon..sun separated by commas, ranges (`mon-fri`), or `daily`, `weekdays`, `weekend`;
 *          listed in any order (written in week order)
 *   MODE   vacuum, mop or both; may be left empty (`@09:30::kitchen`)
 *   ROOMS  room names in cleaning order, joined by `+`; absent: everywhere
 * `--disable ID` stores an entry switched off. `--zone` is an IANA zone, converted here to the
 * POSIX rule the robot evaluates (tools/tz/iana-to-posix.ts); `--tz` gives the rule itself.
 * The schedule is checked by the robot's own validateSchedule before anything is sent.
 *
 * Where: `--endpoint URL` or env IOT_DATA_ENDPOINT. The local cloud (`npx tsx cloud/local/main.ts`)
 * prints its URL as "iot data plane (shadows)" and takes the local credentials
 * (cloud/local/credentials.ts). `--aws` (or an endpoint under amazonaws.com) uses the default AWS
 * credential chain and region (`--region`, AWS_REGION, profile); without an endpoint it asks
 * IoT DescribeEndpoint (iot:Data-ATS) for `https://<prefix>-ats.iot.<region>.amazonaws.com`.
 *
 * Exit codes: 0 done, 1 the service failed or refused, 2 bad arguments or an invalid schedule
 * (nothing sent).
 */
import { pathToFileURL } from 'node:url';
import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { DAYS, MODES, validateSchedule, type Day, type Entry, type Schedule } from '../firmware/core/schedule/model';
import { nextRun } from '../firmware/core/schedule/next';
import { SCHEDULE_SHADOW } from '../firmware/core/schedule/shadow';
import { isThingName, THING_NAME_RULE } from '../firmware/core/contracts/thing';
import { parseCommandLine, UsageError } from './cli';
import { ianaToPosix } from './tz/iana-to-posix';
import { getShadow, setDesiredSchedule } from '../console/shadow';

export interface Io {
	out(line: string): void;
	err(line: string): void;
	readonly env: Readonly<Record<string, string | undefined>>;
	/** "Now" for the next-run line of `show` (tests pin it). */
	readonly now?: () => number;
}

const USAGE = `usage:
  npm run schedule -- show --thing NAME [--json] [where]
  npm run schedule -- set  --thing NAME (--zone IANA | --tz POSIX) --entry SPEC... [--disable ID]... [--empty] [where]
where: --endpoint URL (or env IOT_DATA_ENDPOINT) | --aws [--region R] [--endpoint URL]
SPEC:  ID:DAYS@HH:MM[:MODE][:ROOMS]   e.g. "weekday:mon-fri@09:30:vacuum:kitchen+hall"
       DAYS mon,tue,.. | mon-fri | daily | weekdays | weekend;  MODE ${MODES.join('|')};  ROOMS a+b+c`;

const ALIASES: Readonly<Record<string, readonly Day[]>> = Object.freeze({
	daily: DAYS,
	weekdays: DAYS.slice(0, 5),
	weekend: DAYS.slice(5),
});

/** `ID:DAYS@HH:MM[:MODE][:ROOMS]` to an entry as the shadow holds it (unchecked: validateSchedule judges it). */
export function parseEntry(spec: string): { ok: true; entry: Record<string, unknown> } | { ok: false; error: string } {
	const at = spec.indexOf('@');
	if (at < 0) return { ok: false, error: 'expected ID:DAYS@HH:MM[:MODE][:ROOMS], no "@" found' };
	const head = spec.slice(0, at);
	const colon = head.indexOf(':');
	if (colon < 0) return { ok: false, error: 'expected ID:DAYS before "@", got ' + JSON.stringify(head) };
	const id = head.slice(0, colon);
	const days: string[] = [];
	for (const part of head.slice(colon + 1).split(',')) {
		const word = part.trim().toLowerCase();
		const alias = ALIASES[word];
		const range = /^([a-z]{3})-([a-z]{3})$/.exec(word);
		if (alias) days.push(...alias);
		else if (range) {
			const from = DAYS.indexOf(range[1] as Day);
			const to = DAYS.indexOf(range[2] as Day);
			if (from < 0 || to < 0 || to < from) return { ok: false, error: 'day range ' + JSON.stringify(word) + ' expected mon..sun with the first day first, e.g. mon-fri' };
			days.push(...DAYS.slice(from, to + 1));
		} else days.push(word);
	}
	// week order is the schedule's one spelling; unknown names stay (at the end) for validateSchedule to name
	const rank = (d: string) => (DAYS.includes(d as Day) ? DAYS.indexOf(d as Day) : DAYS.length);
	days.sort((a, b) => rank(a) - rank(b));
	const tail = spec.slice(at + 1).split(':');
	if (tail.length < 2 || tail.length > 4) return { ok: false, error: 'expected HH:MM[:MODE][:ROOMS] after "@", got ' + JSON.stringify(spec.slice(at + 1)) };
	const start = tail[0]!.padStart(2, '0') + ':' + tail[1]!;
	let mode: string | undefined;
	let rooms: string | undefined;
	if (tail.length === 4) [mode, rooms] = [tail[2], tail[3]];
	else if (tail.length === 3) {
		if ((MODES as readonly string[]).includes(tail[2]!)) mode = tail[2];
		else rooms = tail[2];
	}
	const entry: Record<string, unknown> = { id, days, start, enabled: true };
	if (mode) entry.mode = mode;
	if (rooms) entry.rooms = rooms.split('+');
	return { ok: true, entry };
}

/** The inverse of parseEntry, for `show`. */
export function formatEntry(e: Entry): string {
	const days = DAYS.every((d) => e.days.includes(d)) ? 'daily' : e.days.join(',');
	let s = e.id + ':' + days + '@' + e.start;
	if (e.mode || e.rooms) s += ':' + (e.mode ?? '');
	if (e.rooms) s += ':' + e.rooms.join('+');
	return s + (e.enabled ? '' : '  (disabled)');
}

type Parsed = ReturnType<typeof readCommandLine>;

function readCommandLine(argv: readonly string[]) {
	const parsed = parseCommandLine({
		args: [...argv],
		allowPositionals: true,
		strict: true,
		options: {
			thing: { type: 'string' },
			zone: { type: 'string' },
			tz: { type: 'string' },
			entry: { type: 'string', multiple: true },
			disable: { type: 'string', multiple: true },
			empty: { type: 'boolean' },
			endpoint: { type: 'string' },
			aws: { type: 'boolean' },
			region: { type: 'string' },
			json: { type: 'boolean' },
			help: { type: 'boolean', short: 'h' },
		},
	});
	const { values, positionals } = parsed;
	if (values.help) return { command: 'help' as const, values };
	if (positionals.length !== 1 || (positionals[0] !== 'show' && positionals[0] !== 'set'))
		throw new UsageError('expected one command, show or set, got ' + (positionals.length ? positionals.map((p) => JSON.stringify(p)).join(' ') : 'none'));
	if (!isThingName(values.thing)) throw new UsageError('--thing expected a thing name of ' + THING_NAME_RULE + ', got ' + JSON.stringify(values.thing ?? null));
	return { command: positionals[0], values };
}

/** Builds the schedule from `set`'s arguments and checks it; every problem named by the argument it came from. */
export function buildSchedule(values: Parsed['values']): { ok: true; schedule: Schedule } | { ok: false; errors: string[] } {
	const errors: string[] = [];
	let tz: string | undefined;
	if (values.zone !== undefined && values.tz !== undefined) errors.push('give --zone or --tz, not both');
	else if (values.zone !== undefined) {
		try {
			tz = ianaToPosix(values.zone);
		} catch (e) {
			errors.push('--zone ' + JSON.stringify(values.zone) + ': ' + ((e as Error).message.includes('time zone') ? 'not an IANA time zone this host knows' : (e as Error).message));
		}
	} else if (values.tz !== undefined) tz = values.tz;
	else errors.push('--zone IANA (e.g. Europe/Berlin) or --tz POSIX-RULE is required');
	const specs = values.entry ?? [];
	if (specs.length === 0 && !values.empty) errors.push('no --entry given (pass --empty to store a schedule with no entries)');
	if (specs.length > 0 && values.empty) errors.push('--empty and --entry exclude each other');
	const entries: Record<string, unknown>[] = [];
	specs.forEach((spec, i) => {
		const r = parseEntry(spec);
		if (r.ok) entries.push(r.entry);
		else errors.push(`--entry ${JSON.stringify(spec)}: ${r.error}`);
	});
	for (const id of values.disable ?? []) {
		const e = entries.find((x) => x.id === id);
		if (e) e.enabled = false;
		else errors.push('--disable ' + JSON.stringify(id) + ': no --entry has that id');
	}
	if (errors.length > 0 || tz === undefined) return { ok: false, errors };
	const checked = validateSchedule({ tz, entries });
	if (checked.ok) return { ok: true, schedule: checked.value };
	for (const e of checked.error) {
		const m = /^entries\[(\d+)\]\.?(.*)$/.exec(e.path);
		if (m) errors.push(`--entry ${JSON.stringify(specs[Number(m[1])])}: ${m[2] || 'entry'}: ${e.message}`);
		else if (e.path === 'tz') errors.push((values.zone !== undefined ? `--zone ${values.zone} (POSIX rule ${JSON.stringify(tz)})` : '--tz ' + JSON.stringify(tz)) + ': ' + e.message);
		else errors.push((e.path || 'schedule') + ': ' + e.message);
	}
	return { ok: false, errors };
}

async function dataPlane(values: Parsed['values'], env: Io['env']): Promise<{ client: IoTDataPlaneClient; where: string }> {
	const endpoint = values.endpoint ?? env.IOT_DATA_ENDPOINT;
	const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
	let aws = values.aws === true;
	if (endpoint !== undefined) {
		let url: URL;
		try {
			url = new URL(endpoint);
		} catch {
			throw new UsageError('--endpoint expected a URL such as http://127.0.0.1:40123, got ' + JSON.stringify(endpoint));
		}
		if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--endpoint expected an http(s) URL, got ' + JSON.stringify(endpoint));
		if (url.hostname.endsWith('.amazonaws.com')) aws = true;
	}
	if (!aws) {
		if (endpoint === undefined) throw new UsageError('no endpoint: pass --endpoint URL or set IOT_DATA_ENDPOINT (the local cloud, `npx tsx cloud/local/main.ts`, prints it as "iot data plane (shadows)"), or --aws for AWS IoT');
		return { client: new IoTDataPlaneClient({ endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } }), where: endpoint + ' (local cloud credentials)' };
	}
	// AWS: the default credential chain; the account's data endpoint unless one was given
	let url = endpoint;
	if (url === undefined) {
		const iot = new IoTClient(region ? { region } : {});
		try {
			const r = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
			if (!r.endpointAddress) throw new Error('DescribeEndpoint answered no address');
			url = 'https://' + r.endpointAddress;
		} finally {
			iot.destroy();
		}
	}
	return { client: new IoTDataPlaneClient({ endpoint: url, ...(region ? { region } : {}) }), where: url + ' (AWS, default credentials)' };
}

function describeSchedule(label: string, x: unknown, now: number): string[] {
	if (x === undefined || x === null) return [label + ': (none)'];
	const v = validateSchedule(x);
	if (!v.ok) return [label + ': ' + JSON.stringify(x), '  (not a valid schedule: ' + v.error.map((e) => (e.path || 'schedule') + ': ' + e.message).join('; ') + ')'];
	const lines = [label + ': tz ' + v.value.tz + (v.value.entries.length === 0 ? ', no entries' : '')];
	for (const e of v.value.entries) lines.push('  ' + formatEntry(e));
	const next = nextRun(v.value, now);
	if (next) lines.push('  next run: ' + new Date(next.utcMs).toISOString() + ' (' + next.entryId + ')');
	return lines;
}

async function show(client: IoTDataPlaneClient, thing: string, json: boolean, io: Io): Promise<number> {
	const doc = await getShadow(client, thing);
	if (!doc) {
		if (json) io.out(JSON.stringify({ thing, exists: false }));
		else io.out(`${thing}: no "${SCHEDULE_SHADOW}" shadow yet (the robot creates it when it first connects)`);
		return 0;
	}
	const desired = doc.state?.desired?.schedule;
	const reported = doc.state?.reported?.schedule;
	const delta = doc.state?.delta?.schedule;
	const error = doc.state?.reported?.scheduleError;
	if (json) {
		io.out(
			JSON.stringify(
				{
					thing,
					exists: true,
					version: doc.version,
					timestamp: doc.timestamp,
					desired: desired ?? null,
					reported: reported ?? null,
					delta: delta ?? null,
					scheduleError: error ?? null,
				},
				null,
				2,
			),
		);
		return 0;
	}
	const now = io.now?.() ?? Date.now();
	io.out(`${thing} / ${SCHEDULE_SHADOW} shadow, version ${doc.version}` + (doc.timestamp ? `, as of ${new Date(doc.timestamp * 1000).toISOString()}` : ''));
	for (const l of describeSchedule('desired (waiting for the robot)', desired, now)) io.out(l);
	for (const l of describeSchedule('reported (what the robot runs)', reported, now)) io.out(l);
	io.out('delta: ' + (delta === undefined ? '(none: the robot runs what was asked)' : JSON.stringify(delta)));
	io.out('scheduleError: ' + (error === undefined || error === null ? '(none)' : JSON.stringify(error)));
	return 0;
}

async function set(client: IoTDataPlaneClient, thing: string, schedule: Schedule, io: Io): Promise<number> {
	const { reply, bytes } = await setDesiredSchedule(client, thing, schedule);
	io.out(`${thing}: desired schedule set (shadow version ${reply.version}, ${bytes} bytes); the robot applies it when it is next online`);
	for (const l of describeSchedule('desired', schedule, io.now?.() ?? Date.now())) io.out(l);
	return 0;
}

/** The CLI; answers the exit code. Exported so tests run it in-process. */
export async function main(argv: readonly string[], io: Io = { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }): Promise<number> {
	let client: IoTDataPlaneClient | undefined;
	try {
		const { command, values } = readCommandLine(argv);
		if (command === 'help') {
			io.out(USAGE);
			return 0;
		}
		let schedule: Schedule | undefined;
		if (command === 'set') {
			const built = buildSchedule(values);
			if (!built.ok) {
				io.err('schedule not sent:');
				for (const e of built.errors) io.err('  ' + e);
				return 2;
			}
			schedule = built.schedule;
		} else if (values.entry || values.zone || values.tz || values.disable || values.empty) throw new UsageError('show takes no schedule options');
		const plane = await dataPlane(values, io.env);
		client = plane.client;
		if (command === 'show') return await show(client, values.thing!, values.json === true, io);
		return await set(client, values.thing!, schedule!, io);
	} catch (e) {
		if (e instanceof UsageError) {
			io.err(e.message);
			io.err(USAGE);
			return 2;
		}
		const x = e as Error & { $metadata?: { httpStatusCode?: number } };
		const status = x.$metadata?.httpStatusCode;
		io.err('failed: ' + (x.name && x.name !== 'Error' ? x.name + ': ' : '') + x.message + (status ? ' (HTTP ' + status + ')' : ''));
		return 1;
	} finally {
		client?.destroy();
	}
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
	// the SDK's notice about Node 22 (the project targets Node 20) is noise in a CLI's output
	process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
	process.exitCode = await main(process.argv.slice(2));
}
