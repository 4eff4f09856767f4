/*
 * The product's AWS IoT commands as data: one dynamic command per robot action, whose payload
 * template produces what the robot parses (firmware/core/commands/command.ts). The local cloud
 * creates them at start; on AWS the template declares them (AWS::IoT::Command). `startInput`
 * builds a StartCommandExecution for one robot with a deadline the robot checks itself
 * (`notAfter`): the broker keeps a QoS 1 request for an offline robot, and a robot that comes
 * back after the deadline must not act on it.
 */

export const ROBOT_ACTIONS = Object.freeze(['clean', 'pause', 'resume', 'stop', 'dock', 'locate', 'volume'] as const);
export type RobotAction = (typeof ROBOT_ACTIONS)[number];

/** How long the app waits for the robot, seconds: a command older than that is not run. */
export const DEFAULT_COMMAND_TIMEOUT_S = 60;

const P = (name: string) => '${aws:iot:commandexecution::parameter:' + name + '}';

export interface CommandDefinition {
	readonly commandId: string;
	readonly displayName: string;
	readonly payloadTemplate: string;
	readonly mandatoryParameters: readonly { readonly name: string; readonly defaultValue?: { readonly S: string } }[];
}

function define(action: RobotAction, displayName: string, fields: Record<string, string>, params: CommandDefinition['mandatoryParameters']): CommandDefinition {
	const body = { action: action === 'volume' ? 'settings' : action, ...fields, notAfter: P('notAfter') };
	return { commandId: 'robot-' + action, displayName, payloadTemplate: JSON.stringify(body), mandatoryParameters: [...params, { name: 'notAfter' }] };
}

export const COMMANDS: Readonly<Record<RobotAction, CommandDefinition>> = Object.freeze({
	clean: define('clean', 'Clean now', { mode: P('mode'), rooms: P('rooms') }, [
		{ name: 'mode', defaultValue: { S: 'vacuum' } },
		{ name: 'rooms', defaultValue: { S: 'all' } },
	]),
	pause: define('pause', 'Pause', {}, []),
	resume: define('resume', 'Resume', {}, []),
	stop: define('stop', 'Stop', {}, []),
	dock: define('dock', 'Return to dock', {}, []),
	locate: define('locate', 'Locate', {}, []),
	volume: define('volume', 'Set the volume', { volume: P('volume') }, [{ name: 'volume' }]),
});

/** The parameters of one action, checked: what the app may send. */
export interface CommandRequest {
	readonly action: RobotAction;
	readonly mode?: 'vacuum' | 'mop' | 'both';
	/** Room names, or none for the whole home. */
	readonly rooms?: readonly string[];
	readonly volume?: number;
}

const ROOM = /^[a-z0-9_-]{1,32}$/;

/** Why a request is not one the robot would take, or undefined. */
export function checkRequest(r: unknown): string | undefined {
	if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'expected an object';
	const o = r as Record<string, unknown>;
	if (!(ROBOT_ACTIONS as readonly unknown[]).includes(o.action)) return 'action expected one of ' + ROBOT_ACTIONS.join(', ');
	if (o.mode !== undefined && (o.action !== 'clean' || !['vacuum', 'mop', 'both'].includes(o.mode as string))) return 'mode expected vacuum, mop or both, with clean';
	if (o.rooms !== undefined && (o.action !== 'clean' || !Array.isArray(o.rooms) || o.rooms.length > 16 || !o.rooms.every((x) => typeof x === 'string' && ROOM.test(x)))) {
		return 'rooms expected at most 16 room names, with clean';
	}
	if (o.action === 'volume' && (typeof o.volume !== 'number' || !Number.isInteger(o.volume) || o.volume < 0 || o.volume > 100)) return 'volume expected an integer 0-100';
	return undefined;
}

/** The StartCommandExecution input for one robot; `nowMs` and `timeoutS` fix the robot's deadline. */
export function startInput(
	r: CommandRequest,
	target: { region: string; account: string; thing: string },
	nowMs: number,
	timeoutS = DEFAULT_COMMAND_TIMEOUT_S,
): { commandArn: string; targetArn: string; parameters: Record<string, { S: string } | { L: number } | { I: number }>; executionTimeoutSeconds: number } {
	const why = checkRequest(r);
	if (why) throw new TypeError('command request: ' + why);
	const parameters: Record<string, { S: string } | { L: number } | { I: number }> = { notAfter: { L: Math.floor(nowMs / 1000) + timeoutS } };
	if (r.action === 'clean') {
		if (r.mode) parameters.mode = { S: r.mode };
		if (r.rooms && r.rooms.length > 0) parameters.rooms = { S: r.rooms.join('+') };
	}
	if (r.action === 'volume') parameters.volume = { I: r.volume! };
	return {
		commandArn: `arn:aws:iot:${target.region}:${target.account}:command/${COMMANDS[r.action].commandId}`,
		targetArn: `arn:aws:iot:${target.region}:${target.account}:thing/${target.thing}`,
		parameters,
		executionTimeoutSeconds: timeoutS,
	};
}
