/*
 * The owner's app side of the robot's `schedule` shadow: read it, write a schedule to
 * `desired`. The console's backend and the schedule CLI (tools/schedule.ts) both speak
 * through these, so the app's write is one piece of code.
 */
import { GetThingShadowCommand, UpdateThingShadowCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { canonicalJson, type Schedule } from '../firmware/core/schedule/model';
import { SCHEDULE_SHADOW } from '../firmware/core/schedule/shadow';

/** The `schedule` shadow document as GetThingShadow and UpdateThingShadow answer it. */
export interface ShadowDoc {
	state?: { desired?: Record<string, unknown> | null; reported?: Record<string, unknown> | null; delta?: Record<string, unknown> };
	metadata?: unknown;
	version?: number;
	timestamp?: number;
}

/** The robot's `schedule` shadow (or another named one, or the classic one for null); undefined before the robot made it. */
export async function getShadow(client: IoTDataPlaneClient, thing: string, name: string | null = SCHEDULE_SHADOW): Promise<ShadowDoc | undefined> {
	try {
		const r = await client.send(new GetThingShadowCommand({ thingName: thing, ...(name === null ? {} : { shadowName: name }) }));
		return JSON.parse(new TextDecoder().decode(r.payload)) as ShadowDoc;
	} catch (e) {
		if ((e as Error).name === 'ResourceNotFoundException') return undefined;
		throw e;
	}
}

/**
 * Writes `schedule` (already valid) to `desired` as the owner's app does; answers the shadow's
 * reply. The data plane's refusals (413 over 8 KB, 400) throw its own error and change nothing.
 */
export async function setDesiredSchedule(client: IoTDataPlaneClient, thing: string, schedule: Schedule): Promise<{ reply: ShadowDoc; bytes: number }> {
	const before = await getShadow(client, thing);
	const old = before?.state?.desired?.schedule;
	// an update merges objects key by key: a stale desired.schedule with keys a schedule does not have would
	// survive the write and make the robot refuse the whole edit, so such a leftover is removed first
	if (old !== null && typeof old === 'object' && !Array.isArray(old) && Object.keys(old).some((k) => k !== 'tz' && k !== 'entries'))
		await client.send(
			new UpdateThingShadowCommand({
				thingName: thing,
				shadowName: SCHEDULE_SHADOW,
				payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule: null } } })),
			}),
		);
	const body = JSON.stringify({ state: { desired: { schedule: JSON.parse(canonicalJson(schedule)) as unknown } } });
	const r = await client.send(new UpdateThingShadowCommand({ thingName: thing, shadowName: SCHEDULE_SHADOW, payload: new TextEncoder().encode(body) }));
	return { reply: JSON.parse(new TextDecoder().decode(r.payload)) as ShadowDoc, bytes: body.length };
}
