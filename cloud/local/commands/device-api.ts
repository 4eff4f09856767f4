/*
 * The device side of commands over MQTT ("Commands topics"; UpdateCommandExecution of the device SDKs):
 *   $aws/commands/things/{thing}/executions/{id}/request/json       the service -> device (runner.ts)
 *   $aws/commands/things/{thing}/executions/{id}/response/json      device -> service:
 *       { "status": "IN_PROGRESS|SUCCEEDED|FAILED|REJECTED|TIMED_OUT",
 *         "statusReason": { "reasonCode": "...", "reasonDescription": "..." }, "result": { name: {S|B|BIN} } }
 *   .../response/accepted/json  { "executionId" }
 *   .../response/rejected/json  { "error": <RejectedErrorCode>, "errorMessage", "executionId" }
 * The broker's policy lets a thing publish only its own response topics, so the thing in the
 * topic is the one that spoke.
 */
import type { Bus } from '../bus';
import type { LogFn } from '../log';
import type { CommandsRunner } from './runner';
import { checkStatusReason, DEVICE_STATUSES, type DeviceStatus, type DeviceUpdate, type ResultValue } from './execution';
import { isJsonObject, parseJsonObject } from '../json-object';

export const RESPONSE_FILTER = '$aws/commands/things/+/executions/+/response/+';

class Rejected extends Error {
	constructor(
		readonly code: 'InvalidJson' | 'InvalidRequest' | 'InvalidTopic',
		message: string,
	) {
		super(message);
	}
}

export function serveDeviceApi(runner: CommandsRunner, bus: Bus, log: LogFn): () => void {
	return bus.subscribe(RESPONSE_FILTER, async (m) => {
		const [, , , thing, , executionId, , format] = m.topic.split('/');
		if (!thing || !executionId || !format) return;
		const base = m.topic.slice(0, m.topic.lastIndexOf('/'));
		const reply = (outcome: 'accepted' | 'rejected', body: unknown) => bus.publish(`${base}/${outcome}/json`, JSON.stringify(body), 0);
		try {
			if (format !== 'json') throw new Rejected('InvalidTopic', `payload format ${format} is not supported locally (json only)`);
			const update = parseUpdate(m.payload);
			const r = runner.update(executionId, thing, update);
			if (!r.ok) {
				log({ level: 'info', event: 'commands.device.rejected', thing, executionId, code: r.refusal.code });
				return await reply('rejected', { error: r.refusal.code, errorMessage: r.refusal.message, executionId });
			}
			await reply('accepted', { executionId });
		} catch (e) {
			if (!(e instanceof Rejected)) throw e;
			log({ level: 'info', event: 'commands.device.rejected', thing, executionId, code: e.code, message: e.message });
			await reply('rejected', { error: e.code, errorMessage: e.message, executionId });
		}
	});
}

function parseUpdate(payload: Uint8Array): DeviceUpdate {
	const r = parseJsonObject(payload, false);
	if (!r.ok) throw r.error === 'notJson' ? new Rejected('InvalidJson', 'the response payload is not JSON') : new Rejected('InvalidRequest', 'the response payload expected a JSON object');
	const b = r.value;
	if (!(DEVICE_STATUSES as readonly unknown[]).includes(b.status)) throw new Rejected('InvalidRequest', 'status expected one of ' + DEVICE_STATUSES.join(', '));
	if (b.statusReason !== undefined) {
		const why = checkStatusReason(b.statusReason);
		if (why) throw new Rejected('InvalidRequest', why);
	}
	let result: Record<string, ResultValue> | undefined;
	if (b.result !== undefined) {
		if (!isJsonObject(b.result)) throw new Rejected('InvalidRequest', 'result expected an object');
		for (const [k, x] of Object.entries(b.result)) {
			const keys = x && typeof x === 'object' ? Object.keys(x) : [];
			const ok =
				keys.length === 1 && ((keys[0] === 'S' && typeof (x as { S: unknown }).S === 'string') || (keys[0] === 'B' && typeof (x as { B: unknown }).B === 'boolean') || (keys[0] === 'BIN' && typeof (x as { BIN: unknown }).BIN === 'string'));
			if (!ok) throw new Rejected('InvalidRequest', `result.${k} expected one of {S}, {B}, {BIN}`);
		}
		result = b.result as Record<string, ResultValue>;
	}
	return { status: b.status as DeviceStatus, ...(b.statusReason ? { statusReason: b.statusReason as DeviceUpdate['statusReason'] & object } : {}), ...(result ? { result } : {}) };
}
