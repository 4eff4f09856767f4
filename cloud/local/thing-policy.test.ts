import assert from 'node:assert/strict';
import { loadTemplate } from '../template-yaml';
import { globMatch, mayConnect, mayPublish, maySubscribe, operatorMayPublish, operatorMaySubscribe, robotPolicyDocument } from './thing-policy';

/** The template's RobotPolicy, evaluated as AWS IoT would for a connection of `thing`. */
interface Statement {
	Effect: string;
	Action: string;
	Resource: { 'Fn::Sub': string } | { 'Fn::Sub': string }[];
}
const templatePolicy = (loadTemplate().Resources as Record<string, { Properties: { PolicyDocument: { Statement: Statement[] } } }>).RobotPolicy!.Properties.PolicyDocument;

function templateAllows(action: 'iot:Publish' | 'iot:Subscribe', thing: string, topic: string): boolean {
	const kind = action === 'iot:Subscribe' ? 'topicfilter' : 'topic';
	const arn = `arn:aws:iot:eu-west-1:123456789012:${kind}/${topic}`;
	return templatePolicy.Statement.some((s) => {
		if (s.Effect !== 'Allow' || s.Action !== action) return false;
		const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
		return resources.some((r) => {
			const pattern = r['Fn::Sub'].replace('${AWS::Partition}', 'aws').replace('${AWS::Region}', 'eu-west-1').replace('${AWS::AccountId}', '123456789012').replace('${!iot:Connection.Thing.ThingName}', thing);
			return globMatch(pattern, arn);
		});
	});
}

describe('thing policy', () => {
	it('the template holds exactly the policy rendered from the one table', () => {
		assert.deepEqual(JSON.parse(JSON.stringify(templatePolicy)), robotPolicyDocument());
	});

	const connect: [string, string, boolean][] = [
		['robot-1', 'robot-1', true],
		['robot-1', 'robot-2', false],
		['robot-1', '', false],
		['robot+1', 'robot+1', false],
	];
	for (const [thing, clientId, ok] of connect) {
		it(`connect ${thing} as ${JSON.stringify(clientId)} -> ${ok}`, () => assert.equal(mayConnect(thing, clientId), ok));
	}

	// every row is checked against the local broker's rule and the template's IoT policy
	const publish: [string, boolean][] = [
		['robots/robot-1/missions/m1/events', true],
		['robots/robot-1/maps/upload-request', true],
		['robots/robot-1/logs', true],
		['robots/robot-2/logs', false],
		['$aws/things/robot-1/shadow/name/schedule/update', true],
		['$aws/things/robot-1/jobs/$next/get', true],
		['$aws/rules/mission_report/robots/robot-1/missions/m1/report', true],
		['$aws/rules/mission_report/robots/robot-2/missions/m1/report', false],
		['$aws/rules/map_upload_request/robots/robot-2/maps/upload-request', false],
		['$aws/rules/map_upload_request/robots/robot-1/maps/upload-request', false],
		['$aws/rules/mission_report/x', false],
		['$aws/rules/x', false],
		['$aws/rules/', false],
		['robots/robot-2/missions/m1/events', false],
		['robots/robot-2/maps/upload-slot', false],
		['$aws/things/robot-2/shadow/update', false],
		['robots/robot-1', false],
		['robots/robot-10/x', false],
		['other', false],
	];
	for (const [topic, ok] of publish) {
		it(`robot-1 publish ${topic} -> ${ok} (local and template)`, () => {
			assert.equal(mayPublish('robot-1', topic), ok, 'local broker');
			assert.equal(templateAllows('iot:Publish', 'robot-1', topic), ok, 'template');
		});
	}

	const subscribe: [string, boolean][] = [
		['robots/robot-1/maps/upload-slot', true],
		['robots/robot-1/logs/request', true],
		['robots/robot-2/logs/request', false],
		['robots/robot-1/#', true],
		['$aws/things/robot-1/shadow/name/schedule/+/accepted', true],
		['$aws/things/robot-1/jobs/notify-next', true],
		['robots/+/maps/upload-slot', false],
		['robots/robot-2/#', false],
		['#', false],
		['+/robot-1/#', false],
		['$aws/things/+/shadow/update', false],
		['$aws/rules/x', false],
		['$aws/rules/mission_report/robots/robot-1/#', false],
	];
	for (const [filter, ok] of subscribe) {
		it(`robot-1 subscribe ${filter} -> ${ok} (local and template)`, () => {
			assert.equal(maySubscribe('robot-1', filter), ok, 'local broker');
			assert.equal(templateAllows('iot:Subscribe', 'robot-1', filter), ok, 'template');
		});
	}

	const operator: [string, boolean, boolean][] = [
		['$aws/things/robot-1/shadow/name/schedule/update', true, true],
		['$aws/things/robot-2/jobs/job-1/get', true, true],
		['$aws/things/+/shadow/name/schedule/update/accepted', false, true],
		['$aws/things/robot-1/shadow/#', false, true],
		['$aws/things/robot-1/other/x', false, false],
		['robots/robot-1/missions/m1/events', false, false],
		['$aws/rules/mission_report/robots/robot-1/missions/m1/report', false, false],
		['#', false, false],
		// a robot's logs: ask one robot, read its replies (or every robot's); never speak as a robot
		['robots/robot-1/logs/request', true, false],
		['robots/+/logs/request', false, false],
		['robots/robot-1/logs', false, true],
		['robots/+/logs', false, true],
		['robots/robot-1/logs/#', false, false],
		['robots/#', false, false],
	];
	for (const [topic, pub, sub] of operator) {
		it(`operator publish ${topic} -> ${pub}, subscribe -> ${sub}`, () => {
			assert.equal(operatorMayPublish(topic), pub);
			assert.equal(operatorMaySubscribe(topic), sub);
		});
	}
});
