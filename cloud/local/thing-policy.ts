// The robots' IoT policy as ONE table (ROBOT_POLICY), from which both come:
// - the local broker's per-thing authorization (mayPublish, maySubscribe below), and
// - the template's `RobotPolicy` document (robotPolicyDocument: cloud/template.test.ts requires
//   cloud/template.yaml to hold exactly this rendering).
// `${thing}` in a pattern stands for `${iot:Connection.Thing.ThingName}`: the thing the
// connection's certificate is attached to (locally: the certificate CN, which CONNECT also
// requires to be attached, see iot-registry.ts). A pattern's `*` is the IoT policy wildcard: any
// characters, '/' included; `+` and `#` in a filter are literal characters to IoT policies.
// An operator (the app backend or a test rig, connecting with its own certificate) has the
// fleet policy instead: the Device Shadow and Jobs topics of every thing, as an AWS IoT
// policy on topic/$aws/things/*/shadow/* and topic/$aws/things/*/jobs/* grants.

import { isThingName, THING_NAME_PATTERN } from '../../firmware/core/contracts/thing';
import { REPORT_RULE } from '../../firmware/core/mission/report';

const THING = '${thing}';

/**
 * What a robot may do. Basic Ingest (`$aws/rules/<rule>/...`) is granted per rule and only under
 * the robot's own `robots/<thing>/` prefix: a rule that reads the thing from the topic must
 * never see another robot's name from this robot.
 */
export const ROBOT_POLICY = Object.freeze({
	connect: Object.freeze({ client: THING, mustBeAttached: true }),
	// commands (AWS IoT Device Management): the robot answers on its executions' response topics,
	// and takes requests on the one filter it subscribes (`+` is literal in a policy: exactly that filter)
	publish: Object.freeze([`$aws/things/${THING}/*`, `robots/${THING}/*`, `$aws/rules/${REPORT_RULE}/robots/${THING}/*`, `$aws/commands/things/${THING}/executions/*/response/json`]),
	subscribe: Object.freeze([`$aws/things/${THING}/*`, `robots/${THING}/*`, `$aws/commands/things/${THING}/executions/+/request/json`]),
	receive: Object.freeze([`$aws/things/${THING}/*`, `robots/${THING}/*`, `$aws/commands/things/${THING}/executions/*`]),
} as const);

/** The client id must equal the thing name taken from the certificate. */
export function mayConnect(thing: string, clientId: string): boolean {
	return isThingName(thing) && clientId === thing;
}

export function mayPublish(thing: string, topic: string): boolean {
	return isThingName(thing) && ROBOT_POLICY.publish.some((p) => globMatch(p.replace(THING, thing), topic));
}

/**
 * A filter is allowed only below the thing's own level. Because the thing name is literal and
 * cannot hold a wildcard, any `+` or `#` in an allowed filter can match only the thing's own
 * topics; `robots/+/x` or `#` could match another thing's and are refused.
 */
export function maySubscribe(thing: string, filter: string): boolean {
	return isThingName(thing) && ROBOT_POLICY.subscribe.some((p) => globMatch(p.replace(THING, thing), filter));
}

/** IoT policy resource matching: `*` any run of characters (none included), `?` one; the rest literal. */
export function globMatch(pattern: string, value: string): boolean {
	const re =
		'^' +
		pattern
			.replace(/[.+^${}()|[\]\\#/]/g, '\\$&')
			.replace(/\*/g, '[\\s\\S]*')
			.replace(/\?/g, '[\\s\\S]') +
		'$';
	return new RegExp(re).test(value);
}

/** The IoT policy variable a `${thing}` becomes, written for !Sub (`${!...}` is a literal `${...}`). */
const SUB_THING = '${!iot:Connection.Thing.ThingName}';
const ARN = 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:';

/** The template's RobotPolicy PolicyDocument, rendered from ROBOT_POLICY (CloudFormation JSON, !Sub as Fn::Sub). */
export function robotPolicyDocument(): unknown {
	const sub = (kind: string, pattern: string) => ({ 'Fn::Sub': ARN + kind + '/' + pattern.replace(THING, SUB_THING) });
	return {
		Version: '2012-10-17',
		Statement: [
			{
				Sid: 'ConnectAsItsThing',
				Effect: 'Allow',
				Action: 'iot:Connect',
				Resource: sub('client', ROBOT_POLICY.connect.client),
				Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
			},
			{ Sid: 'PublishOwnTopics', Effect: 'Allow', Action: 'iot:Publish', Resource: ROBOT_POLICY.publish.map((p) => sub('topic', p)) },
			{ Sid: 'SubscribeOwnTopics', Effect: 'Allow', Action: 'iot:Subscribe', Resource: ROBOT_POLICY.subscribe.map((p) => sub('topicfilter', p)) },
			{ Sid: 'ReceiveOwnTopics', Effect: 'Allow', Action: 'iot:Receive', Resource: ROBOT_POLICY.receive.map((p) => sub('topic', p)) },
		],
	};
}

/** Shadow and jobs topics of any thing (`+` for the thing in a filter); nothing else. */
const OPERATOR_TOPIC = new RegExp('^\\$aws/things/(' + THING_NAME_PATTERN + '|\\+)/(shadow|jobs)/.+$');
/**
 * A robot's log ring (firmware/core/log/ship.ts): the operator asks on one robot's request topic
 * and reads the replies. The robot's side is inside its `robots/${thing}/*` rows above: it
 * subscribes `robots/<thing>/logs/request` and publishes `robots/<thing>/logs`, its own only.
 */
const OPERATOR_LOGS_REQUEST = new RegExp('^robots/' + THING_NAME_PATTERN + '/logs/request$');
const OPERATOR_LOGS = new RegExp('^robots/(' + THING_NAME_PATTERN + '|\\+)/logs$');

export function operatorMayPublish(topic: string): boolean {
	return (OPERATOR_TOPIC.test(topic) && !topic.includes('+') && !topic.includes('#')) || OPERATOR_LOGS_REQUEST.test(topic);
}

export function operatorMaySubscribe(filter: string): boolean {
	return OPERATOR_TOPIC.test(filter) || OPERATOR_LOGS.test(filter);
}
