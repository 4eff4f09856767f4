/*
 * Asks a robot for its own log lines (its ring, firmware/core/log) over MQTT, as an operator:
 * publishes {"id","since"} on robots/<thing>/logs/request and collects the batches the robot
 * answers on robots/<thing>/logs until the last one (`more: false`). Both at QoS 0: the robot
 * must be connected; a robot that does not answer in time is reported as such.
 *
 *   npx tsx tools/logs.ts --thing robot-1 --endpoint mqtts://HOST:8883 --cert C.pem --key K.pem [--ca CA.pem] [--since N] [--timeout-ms MS]
 *   npx tsx tools/logs.ts --thing robot-1 --endpoint mqtts://127.0.0.1:PORT --local .data --operator ops
 *
 * --local DIR --operator NAME  the local cloud's dev certificate for NAME (started with it among
 *                              its `operators`) and its CA, under DIR/pki; on AWS an operator's
 *                              certificate needs Publish on robots/<thing>/logs/request and
 *                              Subscribe/Receive on robots/<thing>/logs (cloud/local/thing-policy.ts)
 * --since N                    only lines numbered after N (the `last` of an earlier answer)
 *
 * Prints each log line as one JSON line on stdout, then a summary line on stderr
 * ({"event":"logs.received",...}). Exit codes: 0 answered, 1 no answer or a broker error, 2 bad arguments.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { logsRequestTopic, logsTopic } from '../firmware/core/log/ship';
import { isThingName } from '../firmware/core/contracts/thing';
import { EXIT_USAGE, parseCommandLine, UsageError } from './cli';

export interface LogsAnswer {
	/** The robot's log lines, oldest first (JSON objects as the ring keeps them). */
	readonly lines: Record<string, unknown>[];
	/** Number of the last line: pass it as `since` next time. */
	readonly last: number;
	/** Lines after `since` the ring had already pushed out. */
	readonly lost: number;
	readonly batches: number;
}

interface Batch {
	id: string;
	batch: number;
	more: boolean;
	lost: number;
	last: number;
	lines: Record<string, unknown>[];
}

/**
 * One request over a connected client. Resolves with every line once the last batch is in;
 * rejects after `timeoutMs` without it (QoS 0: a batch lost on the way means asking again).
 */
export async function requestLogs(client: MqttClient, thing: string, options: { since?: number; timeoutMs?: number } = {}): Promise<LogsAnswer> {
	if (!isThingName(thing)) throw new UsageError('--thing: expected a thing name, got ' + JSON.stringify(thing));
	const since = options.since ?? 0;
	if (!Number.isSafeInteger(since) || since < 0) throw new UsageError('--since: expected a non-negative integer, got ' + since);
	const timeoutMs = options.timeoutMs ?? 10_000;
	const id = 'op-' + randomBytes(6).toString('hex');
	const topic = logsTopic(thing);
	const batches = new Map<number, Batch>();
	let onMessage: ((t: string, p: Buffer) => void) | undefined;
	try {
		return await new Promise<LogsAnswer>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no complete answer from ${thing} in ${timeoutMs} ms (${batches.size} batches): is it connected?`)), timeoutMs);
			onMessage = (t, payload) => {
				if (t !== topic) return;
				let b: Batch;
				try {
					b = JSON.parse(payload.toString('utf8')) as Batch;
				} catch {
					return;
				}
				if (b.id !== id || !Number.isInteger(b.batch)) return;
				batches.set(b.batch, b);
				const final = [...batches.values()].find((x) => !x.more);
				if (!final || batches.size < final.batch) return;
				clearTimeout(timer);
				const ordered = [...batches.values()].sort((x, y) => x.batch - y.batch);
				resolve({ lines: ordered.flatMap((x) => x.lines), last: final.last, lost: ordered[0]!.lost, batches: ordered.length });
			};
			client.on('message', onMessage);
			const ask = () => client.publish(logsRequestTopic(thing), JSON.stringify({ id, since }), { qos: 0 });
			const subscribed = (SUBSCRIBED.get(client) ?? SUBSCRIBED.set(client, new Set()).get(client))!;
			if (subscribed.has(topic)) return ask();
			// subscribed once per client and kept: an UNSUBSCRIBE racing the next SUBSCRIBE could drop its answer
			client.subscribe(topic, { qos: 0 }, (e, granted) => {
				if (e || granted?.[0]?.qos === 128) {
					clearTimeout(timer);
					return reject(new Error('subscribe ' + topic + ' refused' + (e ? ': ' + e.message : ' (policy)')));
				}
				subscribed.add(topic);
				ask();
			});
		});
	} finally {
		if (onMessage) client.removeListener('message', onMessage);
	}
}

const SUBSCRIBED = new WeakMap<MqttClient, Set<string>>();

/** An MQTT 3.1.1 client with mutual TLS to `endpoint` (mqtts://host:port); its client id is the certificate's CN, as AWS IoT policies (and the local broker) require. */
export async function connectOperator(endpoint: string, cert: Buffer, key: Buffer, ca?: Buffer, servername?: string): Promise<MqttClient> {
	let url: URL;
	try {
		url = new URL(endpoint);
	} catch {
		throw new UsageError('--endpoint: expected mqtts://host:port, got ' + JSON.stringify(endpoint));
	}
	if (url.protocol !== 'mqtts:') throw new UsageError('--endpoint: expected mqtts://host:port, got ' + JSON.stringify(endpoint));
	const client = await mqtt.connectAsync(endpoint, {
		protocolVersion: 4,
		cert,
		key,
		...(ca ? { ca } : {}),
		...(servername ? { servername } : {}),
		clientId: commonName(cert),
		reconnectPeriod: 0,
		connectTimeout: 10_000,
	});
	return client;
}

function commonName(cert: Buffer): string {
	let subject: string;
	try {
		subject = new X509Certificate(cert).subject;
	} catch (e) {
		throw new UsageError('--cert: not a certificate: ' + (e as Error).message);
	}
	const cn = /(?:^|\n)CN=([^\n]+)/.exec(subject)?.[1];
	if (!cn) throw new UsageError('--cert: the certificate has no CN');
	return cn;
}

async function main(argv: string[]): Promise<number> {
	const { values } = parseCommandLine({
		args: argv,
		options: {
			thing: { type: 'string' },
			endpoint: { type: 'string' },
			cert: { type: 'string' },
			key: { type: 'string' },
			ca: { type: 'string' },
			local: { type: 'string' },
			operator: { type: 'string' },
			since: { type: 'string' },
			'timeout-ms': { type: 'string' },
			servername: { type: 'string' },
		},
		strict: true,
	});
	if (!values.thing || !values.endpoint) throw new UsageError('--thing and --endpoint are required');
	let certFile = values.cert;
	let keyFile = values.key;
	let caFile = values.ca;
	let servername = values.servername;
	if (values.local !== undefined) {
		if (!values.operator) throw new UsageError('--local needs --operator NAME');
		const pki = path.join(values.local, 'pki');
		certFile = path.join(pki, 'things', values.operator, 'cert.pem');
		keyFile = path.join(pki, 'things', values.operator, 'key.pem');
		caFile = path.join(pki, 'ca', 'ca.pem');
		servername ??= 'localhost';
	}
	if (!certFile || !keyFile) throw new UsageError('--cert and --key (or --local and --operator) are required');
	const since = values.since === undefined ? 0 : Number(values.since);
	const timeoutMs = values['timeout-ms'] === undefined ? 10_000 : Number(values['timeout-ms']);
	if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new UsageError('--timeout-ms: expected a positive integer');
	const read = (f: string) => {
		try {
			return readFileSync(f);
		} catch (e) {
			throw new UsageError('cannot read ' + f + ': ' + (e as Error).message);
		}
	};
	const client = await connectOperator(values.endpoint, read(certFile), read(keyFile), caFile ? read(caFile) : undefined, servername);
	try {
		const a = await requestLogs(client, values.thing, { since, timeoutMs });
		for (const l of a.lines) process.stdout.write(JSON.stringify(l) + '\n');
		process.stderr.write(JSON.stringify({ event: 'logs.received', thing: values.thing, lines: a.lines.length, last: a.last, lost: a.lost, batches: a.batches }) + '\n');
		return 0;
	} finally {
		await client.endAsync();
	}
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
	main(process.argv.slice(2)).then(
		(code) => process.exit(code),
		(e: unknown) => {
			process.stderr.write(JSON.stringify({ event: 'logs.failed', error: e instanceof Error ? e.message : String(e) }) + '\n');
			process.exit(e instanceof UsageError ? EXIT_USAGE : 1);
		},
	);
}
