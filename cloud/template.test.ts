/*
 * cloud/template.yaml checked as data: it references only what exists, it matches the code
 * (tables.ts, the rules' SQL, each function's environment, the queue's maxReceiveCount), and
 * the least-privilege facts that matter hold: the IoT policy's resources are thing-scoped by
 * the connection's thing name, and no function has `*` on a data action.
 *
 * The npm CloudFormation linter runs over it too (cloud/lint), and is shown to still refuse
 * broken references and unknown or mistyped properties.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTemplate, TEMPLATE } from './template-yaml';
import { REPORT_RULE } from '../firmware/core/mission/report';
import { fromEnv as mapIngestFromEnv } from './functions/map-ingest/handler';
import { FUNCTION_ROUTES, fromEnv as ownerFromEnv } from './functions/owner-api/handler';
import { COMMANDS } from './lib/robot-commands';
import { fromEnv as missionReportFromEnv, MISSION_REPORT_SQL, RULE_NAME as MISSION_REPORT_RULE } from './functions/mission-report/handler';
import { fromEnv as certRenewFromEnv, RENEW_SQL, RULE_NAME as CERT_RENEW_RULE } from './functions/cert-renew/handler';
import { renewTopics } from '../firmware/core/renew/contract';
import { COMMAND_EVENTS_SQL, fromEnv as commandEventsFromEnv, RULE_NAME as COMMAND_EVENTS_RULE } from './functions/command-events/handler';
import { fromEnv as certRetireFromEnv, RETIRE_RULE_NAME, RETIRE_SQL } from './functions/cert-retire/handler';
import { fromEnv as presenceFromEnv, PRESENCE_SQL, RULE_NAME as PRESENCE_RULE } from './functions/presence/handler';
import { fromEnv as validateFromEnv } from './functions/register-validate/handler';
import { fromEnv as workerFromEnv, MAX_RECEIVE_COUNT } from './functions/register-worker/handler';
import { uploadKey } from './functions/upload-slot/contract';
import { fromEnv as uploadSlotFromEnv, RULE_NAME as UPLOAD_SLOT_RULE, UPLOAD_SLOT_SQL } from './functions/upload-slot/handler';
import { TABLES, type TableDefinition } from './tables';
import { METRICS, NAMESPACE } from './lib/metrics';
import { lintTemplate } from './lint/lint';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
interface Statement {
	Effect: string;
	Action: string | string[];
	Resource?: Json;
	Condition?: Obj;
	Sid?: string;
}

const template = loadTemplate() as Obj;
const resources = template.Resources as Record<string, Obj & { Type: string; Properties: Obj; Metadata?: Obj }>;
const parameters = template.Parameters as Obj;
const globals = (template.Globals as Obj).Function as Obj;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const functions = ofType('AWS::Serverless::Function');
const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Every node of a JSON value, depth first. */
function* walk(x: Json): Generator<Json> {
	yield x;
	if (Array.isArray(x)) for (const v of x) yield* walk(v);
	else if (x && typeof x === 'object') for (const v of Object.values(x)) yield* walk(v);
}
/** The text of a resource value for checks: a !Sub's template, a !GetAtt as `X.Arn`, a string as is. */
function text(v: Json): string {
	if (typeof v === 'string') return v;
	if (v && typeof v === 'object' && !Array.isArray(v)) {
		if ('Fn::Sub' in v) return String(Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'][0] : v['Fn::Sub']);
		if ('Fn::GetAtt' in v) return (v['Fn::GetAtt'] as string[]).join('.');
		if ('Ref' in v) return 'Ref:' + String(v.Ref);
	}
	return JSON.stringify(v);
}

describe('SAM template (cloud/template.yaml)', () => {
	it('is a SAM template whose references all resolve', () => {
		assert.equal(template.AWSTemplateFormatVersion, '2010-09-09');
		assert.equal(template.Transform, 'AWS::Serverless-2016-10-31');
		const known = new Set([...Object.keys(resources), ...Object.keys(parameters), 'AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::StackName', 'AWS::URLSuffix', 'AWS::NoValue']);
		for (const node of walk(template as Json)) {
			if (!node || typeof node !== 'object' || Array.isArray(node)) continue;
			if ('Ref' in node) assert.ok(known.has(String(node.Ref)), 'Ref to unknown ' + String(node.Ref));
			if ('Fn::GetAtt' in node) assert.ok(resources[(node['Fn::GetAtt'] as string[])[0]!], 'GetAtt of unknown ' + JSON.stringify(node['Fn::GetAtt']));
			if ('Fn::Sub' in node && typeof node['Fn::Sub'] === 'string') {
				for (const [, name] of node['Fn::Sub'].matchAll(/\$\{([^!}][^}]*)\}/g)) assert.ok(known.has(name!.split('.')[0]!), 'Sub of unknown ${' + name + '}');
			}
		}
		for (const [id, r] of Object.entries(resources)) assert.match(r.Type, /^AWS::/, id);
		for (const p of ['Stage', 'CaCertificateId', 'IotDataEndpoint']) assert.ok(parameters[p], 'parameter ' + p);
		for (const o of ['RegistrationUrl', 'RegistrationDlqUrl', 'RegistrationDlqArn', 'RobotPolicyName', 'MapsBucketName', 'RobotsTableName', 'MissionsTableName']) assert.ok((template.Outputs as Obj)[o], 'output ' + o);
	});

	it('has the tables of cloud/tables.ts, retained, and each function is given the table names it reads', () => {
		const tables = ofType('AWS::DynamoDB::Table');
		assert.deepEqual(
			tables.map(([id]) => id).sort(),
			Object.values(TABLES)
				.map((t) => t.logicalId)
				.sort(),
		);
		for (const t of Object.values(TABLES) as TableDefinition[]) {
			const r = resources[t.logicalId]!;
			const p = r.Properties;
			assert.equal(p.BillingMode, t.billingMode);
			const keys = [t.partitionKey, ...(t.sortKey ? [t.sortKey] : [])];
			assert.deepEqual(
				p.KeySchema,
				keys.map((k, i) => ({ AttributeName: k.name, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
			);
			assert.deepEqual(
				p.AttributeDefinitions,
				keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
			);
			assert.equal(r.DeletionPolicy, 'Retain', t.logicalId + ': data outlives a stack');
			assert.deepEqual(p.SSESpecification, { SSEEnabled: true });
		}
		for (const [id, f] of functions) {
			const env = ((f.Properties.Environment as Obj | undefined)?.Variables ?? {}) as Obj;
			for (const t of Object.values(TABLES)) if (t.env in env) assert.deepEqual(env[t.env], { Ref: t.logicalId }, id + ' ' + t.env);
		}
	});

	it('gives every function what its Lambda entry reads from the environment', () => {
		const entries: Record<string, (env: Record<string, string>) => unknown> = {
			MissionReportFunction: missionReportFromEnv,
			PresenceFunction: presenceFromEnv,
			CertRenewFunction: certRenewFromEnv,
			CertRetireFunction: certRetireFromEnv,
			CommandEventsFunction: commandEventsFromEnv,
			UploadSlotFunction: uploadSlotFromEnv,
			MapIngestFunction: mapIngestFromEnv,
			RegisterValidateFunction: validateFromEnv,
			RegisterWorkerFunction: workerFromEnv,
			OwnerRobotsFunction: (env) => ownerFromEnv(env, FUNCTION_ROUTES.OwnerRobotsFunction),
			OwnerCommandsFunction: (env) => ownerFromEnv(env, FUNCTION_ROUTES.OwnerCommandsFunction),
			OwnerMissionsFunction: (env) => ownerFromEnv(env, FUNCTION_ROUTES.OwnerMissionsFunction),
		};
		// the owner API's functions share one bundle; SAM names each one's export
		const exportOf: Record<string, string> = { OwnerRobotsFunction: 'robots', OwnerCommandsFunction: 'commands', OwnerMissionsFunction: 'missions' };
		assert.deepEqual(functions.map(([id]) => id).sort(), Object.keys(entries).sort());
		for (const [id, f] of functions) {
			const vars = { ...((globals.Environment as Obj).Variables as Obj), ...(((f.Properties.Environment as Obj | undefined)?.Variables ?? {}) as Obj) };
			// a plausible value for each variable the template sets: fromEnv must need nothing else
			const env: Record<string, string> = { AWS_REGION: 'eu-west-1' };
			for (const k of Object.keys(vars))
				env[k] = k.endsWith('ENDPOINT')
					? 'https://abc-ats.iot.eu-west-1.amazonaws.com'
					: k.endsWith('_URL')
						? 'https://sqs.eu-west-1.amazonaws.com/123456789012/q'
						: k.endsWith('_ARN')
							? 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
							: k === 'CA_CERTIFICATE_IDS' || k === 'CA_CERTIFICATE_ID'
								? 'a'.repeat(64)
								: 'x-' + k.toLowerCase();
			assert.doesNotThrow(() => entries[id]!(env), id);
			// and the bundle is built from that handler
			const build = f.Metadata!.BuildProperties as Obj;
			assert.equal(f.Metadata!.BuildMethod, 'esbuild', id);
			assert.equal(f.Properties.Handler, 'handler.' + (exportOf[id] ?? 'handler'), id);
			assert.equal(f.Properties.CodeUri, '../', id);
			const entry = (build.EntryPoints as string[])[0]!;
			assert.ok(existsSync(path.join(ROOT, entry)), id + ': ' + entry);
			assert.equal(path.basename(entry), 'handler.ts');
			assert.equal(build.Format, 'esm');
		}
		assert.match(String(globals.Runtime), /^nodejs\d+\.x$/);
		assert.ok(Number(String(globals.Runtime).slice(6, -2)) >= 20);
	});

	it("routes the rules to the handlers with the handlers' own SQL and names", () => {
		const rules = Object.fromEntries(ofType('AWS::IoT::TopicRule').map(([, r]) => [r.Properties.RuleName as string, r.Properties.TopicRulePayload as Obj]));
		assert.equal(MISSION_REPORT_RULE, REPORT_RULE);
		assert.equal(rules[MISSION_REPORT_RULE]?.Sql, MISSION_REPORT_SQL);
		assert.equal(rules[UPLOAD_SLOT_RULE]?.Sql, UPLOAD_SLOT_SQL);
		assert.equal(rules[PRESENCE_RULE]?.Sql, PRESENCE_SQL);
		assert.deepEqual((rules[PRESENCE_RULE]!.Actions as Obj[])[0], { Lambda: { FunctionArn: { 'Fn::GetAtt': ['PresenceFunction', 'Arn'] } } });
		assert.deepEqual((rules[MISSION_REPORT_RULE]!.Actions as Obj[])[0], { Lambda: { FunctionArn: { 'Fn::GetAtt': ['MissionReportFunction', 'Arn'] } } });
		assert.deepEqual((rules[UPLOAD_SLOT_RULE]!.Actions as Obj[])[0], { Lambda: { FunctionArn: { 'Fn::GetAtt': ['UploadSlotFunction', 'Arn'] } } });
		assert.equal(rules[CERT_RENEW_RULE]?.Sql, RENEW_SQL);
		assert.deepEqual((rules[CERT_RENEW_RULE]!.Actions as Obj[])[0], { Lambda: { FunctionArn: { 'Fn::GetAtt': ['CertRenewFunction', 'Arn'] } } });
		assert.equal(rules[RETIRE_RULE_NAME]?.Sql, RETIRE_SQL);
		assert.equal(rules[COMMAND_EVENTS_RULE]?.Sql, COMMAND_EVENTS_SQL);
		assert.deepEqual((rules[COMMAND_EVENTS_RULE]!.Actions as Obj[])[0], { Lambda: { FunctionArn: { 'Fn::GetAtt': ['CommandEventsFunction', 'Arn'] } } });
		assert.deepEqual((rules[RETIRE_RULE_NAME]!.Actions as Obj[])[0], { Lambda: { FunctionArn: { 'Fn::GetAtt': ['CertRetireFunction', 'Arn'] } } });
		assert.ok(((rules.mission_events!.Actions as Obj[])[0]!.Kinesis as Obj).StreamName, 'mission events go to a stream');
		for (const [name, r] of Object.entries(rules)) assert.ok(r.ErrorAction, name + ': a failed action is kept');
		// each Lambda target may be invoked by its rule only
		for (const [id, p] of ofType('AWS::Lambda::Permission')) {
			assert.equal(p.Properties.Principal, 'iot.amazonaws.com', id);
			assert.ok(p.Properties.SourceArn, id);
		}
	});

	it('the IoT policy lets a robot reach only its own topics, named by its connection', () => {
		const policy = ofType('AWS::IoT::Policy');
		assert.equal(policy.length, 1);
		const statements = (policy[0]![1].Properties.PolicyDocument as Obj).Statement as unknown as Statement[];
		const THING = '${!iot:Connection.Thing.ThingName}';
		const ARN = 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:';
		const allowed: Record<string, RegExp> = {
			'iot:Connect': /^client\/THING$/,
			'iot:Publish': /^topic\/(\$aws\/things\/THING\/\*|robots\/THING\/\*|\$aws\/rules\/mission_report\/robots\/THING\/\*|\$aws\/commands\/things\/THING\/executions\/\*\/response\/json)$/,
			'iot:Subscribe': /^topicfilter\/(\$aws\/things\/THING\/\*|robots\/THING\/\*|\$aws\/commands\/things\/THING\/executions\/\+\/request\/json)$/,
			'iot:Receive': /^topic\/(\$aws\/things\/THING\/\*|robots\/THING\/\*|\$aws\/commands\/things\/THING\/executions\/\*)$/,
		};
		const seen = new Set<string>();
		for (const s of statements) {
			assert.equal(s.Effect, 'Allow');
			for (const action of list(s.Action)) {
				assert.ok(allowed[action], 'unexpected action ' + action);
				seen.add(action);
				for (const r of list(s.Resource as Json)) {
					const arn = text(r);
					assert.ok(arn.startsWith(ARN), arn);
					const rest = arn.slice(ARN.length);
					// the thing name is the connection's, and nothing before it is a wildcard
					assert.ok(rest.includes(THING), action + ' ' + rest + ' is not thing-scoped');
					assert.ok(!rest.slice(0, rest.indexOf(THING)).includes('*') && !rest.slice(0, rest.indexOf(THING)).includes('+'), action + ' ' + rest);
					assert.match(rest.split(THING).join('THING'), allowed[action]!, action + ' ' + rest);
				}
			}
			if (list(s.Action).includes('iot:Connect')) assert.deepEqual(s.Condition, { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } });
		}
		assert.deepEqual([...seen].sort(), Object.keys(allowed).sort());
	});

	it("declares the owner's app's commands exactly as cloud/lib/robot-commands.ts has them", () => {
		const declared = ofType('AWS::IoT::Command').map(([, r]) => {
			const p = r.Properties as Json as Record<string, any>;
			assert.equal(p.Namespace, 'AWS-IoT');
			assert.deepEqual(p.Preprocessor, { AwsJsonSubstitution: { OutputFormat: 'JSON' } });
			return {
				commandId: p.CommandId,
				displayName: p.DisplayName,
				payloadTemplate: p.PayloadTemplate,
				mandatoryParameters: (p.MandatoryParameters as { Name: string; DefaultValue?: { S: string } }[]).map((m) => ({
					name: m.Name,
					...(m.DefaultValue ? { defaultValue: m.DefaultValue } : {}),
				})),
			};
		});
		assert.deepEqual(
			declared,
			Object.values(COMMANDS).map((c) => ({ ...c, mandatoryParameters: [...c.mandatoryParameters] })),
		);
	});

	it('no function has * on a data action; data actions name their resource', () => {
		/** Actions IAM cannot scope to a resource: '*' is their only form. */
		const NO_RESOURCE_LEVEL = new Set(['iot:RegisterCertificate']);
		const DATA = /^(dynamodb|s3|kms|sqs|kinesis|iot):/;
		for (const [id, f] of functions) {
			const policies = list(f.Properties.Policies as Json);
			// command-events calls no AWS service (its metric is a log line): SAM's basic execution role only
			if (id === 'CommandEventsFunction') {
				assert.deepEqual(policies, [], id + ': no policy');
				continue;
			}
			assert.ok(policies.length > 0, id + ' has its own policy');
			for (const p of policies) {
				// no managed or SAM policy templates: they grant more than a function uses
				assert.ok(p && typeof p === 'object' && !Array.isArray(p) && 'Statement' in p, id + ': inline policy documents only, got ' + JSON.stringify(p));
				for (const s of (p as Obj).Statement as unknown as Statement[]) {
					assert.equal(s.Effect, 'Allow', id);
					for (const action of list(s.Action)) {
						assert.ok(!action.includes('*'), id + ': wildcard action ' + action);
						assert.match(action, DATA, id + ': ' + action);
						for (const r of list(s.Resource as Json)) {
							const arn = text(r);
							if (arn === '*') {
								assert.ok(NO_RESOURCE_LEVEL.has(action), id + ': ' + action + ' on *');
								continue;
							}
							assert.ok(!/:\*$|^arn:[^:]*:[^:]*:[^:]*:[^:]*:\*/.test(arn), id + ': ' + action + ' on ' + arn);
							if (action.startsWith('dynamodb:')) assert.match(arn, /^(RobotsTable|MissionsTable|OwnersTable)\.Arn$/, id + ': ' + action + ' on a table of ours');
							if (action.startsWith('kms:') && arn === 'Ref:CaSigningKeyArn') {
								// the CA key: only renewal signs with it, only PKCS#1 v1.5 SHA-256 over a raw message
								assert.equal(id, 'CertRenewFunction');
								assert.ok(['kms:Sign', 'kms:GetPublicKey'].includes(action), id + ': ' + action + ' on the CA key');
								if (action === 'kms:Sign') assert.deepEqual(s.Condition, { StringEquals: { 'kms:SigningAlgorithm': 'RSASSA_PKCS1_V1_5_SHA_256', 'kms:MessageType': 'RAW' } });
							} else if (action.startsWith('kms:')) {
								assert.equal(arn, 'MapKey.Arn', id);
								assert.deepEqual(s.Condition, { StringEquals: { 'kms:EncryptionContext:purpose': 'map' } }, id + ': ' + action + ' only for maps');
							}
							if (action.startsWith('s3:')) assert.match(arn, /\/(maps|decoded)\/\*$/, id + ': ' + action + ' on a prefix, not the bucket');
							if (action.startsWith('sqs:')) assert.equal(arn, 'RegistrationQueue.Arn', id);
						}
					}
				}
			}
		}
		// renewal: what the handler calls and nothing more; it publishes its two answers only
		const renew = (list(resources.CertRenewFunction!.Properties.Policies as Json)[0] as Obj).Statement as unknown as Statement[];
		const grants = renew.flatMap((st) => list(st.Action).flatMap((a) => list(st.Resource as Json).map((r) => a + ' ' + text(r))));
		const topicArn = (t: string) => 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topic/' + t;
		const answers = renewTopics('*');
		assert.deepEqual(grants.filter((g) => g.startsWith('iot:Publish')).sort(), [answers.accepted, answers.rejected].map((t) => 'iot:Publish ' + topicArn(t)).sort());
		assert.deepEqual([...new Set(renew.flatMap((st) => list(st.Action)))].sort(), [
			'dynamodb:UpdateItem',
			'iot:AttachPolicy',
			'iot:AttachThingPrincipal',
			'iot:DescribeCACertificate',
			'iot:DescribeCertificate',
			'iot:ListThingPrincipals',
			'iot:Publish',
			'iot:RegisterCertificate',
			'kms:GetPublicKey',
			'kms:Sign',
		]);
		const retire = (list(resources.CertRetireFunction!.Properties.Policies as Json)[0] as Obj).Statement as unknown as Statement[];
		assert.deepEqual(retire.flatMap((st) => list(st.Action).map((a) => a + ' ' + text(st.Resource as Json))).sort(), [
			'dynamodb:GetItem RobotsTable.Arn',
			'dynamodb:UpdateItem RobotsTable.Arn',
			'iot:UpdateCertificate arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:cert/*',
		]);
		// the key policy delegates map-key use to IAM for the map context only
		const key = (resources.MapKey!.Properties.KeyPolicy as Obj).Statement as unknown as Statement[];
		const use = key.filter((s) => list(s.Action).some((a) => /^kms:(Decrypt|GenerateDataKey|Encrypt)/.test(a)));
		assert.equal(use.length, 1);
		assert.deepEqual(use[0]!.Condition, { StringEquals: { 'kms:EncryptionContext:purpose': 'map' } });
		assert.ok(key.every((s) => !list(s.Action).includes('kms:*')));
		// the rules' role: only its two targets
		const rule = ((resources.TopicRuleRole!.Properties.Policies as Obj[])[0]!.PolicyDocument as Obj).Statement as unknown as Statement[];
		assert.deepEqual(
			rule.map((s) => [s.Action, text(s.Resource as Json)]),
			[
				['kinesis:PutRecord', 'MissionEventsStream.Arn'],
				['sqs:SendMessage', 'FailedEventsQueue.Arn'],
			],
		);
	});

	it("the registration path: queue with DLQ at the worker's maxReceiveCount, partial batch failures, API route", () => {
		const q = resources.RegistrationQueue!.Properties;
		assert.deepEqual(q.RedrivePolicy, { deadLetterTargetArn: { 'Fn::GetAtt': ['RegistrationDlq', 'Arn'] }, maxReceiveCount: MAX_RECEIVE_COUNT });
		const worker = resources.RegisterWorkerFunction!.Properties;
		assert.ok(Number(q.VisibilityTimeout) >= 6 * Number(worker.Timeout), 'visibility timeout >= 6 x the worker timeout');
		const sqsEvent = ((worker.Events as Obj).Requests as Obj).Properties as Obj;
		assert.deepEqual(sqsEvent.Queue, { 'Fn::GetAtt': ['RegistrationQueue', 'Arn'] });
		assert.deepEqual(sqsEvent.FunctionResponseTypes, ['ReportBatchItemFailures']);
		const api = ((resources.RegisterValidateFunction!.Properties.Events as Obj).Register as Obj).Properties as Obj;
		assert.deepEqual([api.Method, api.Path, api.PayloadFormatVersion], ['POST', '/register', '2.0']);
		for (const id of ['RegistrationQueue', 'RegistrationDlq', 'FailedEventsQueue']) assert.equal(resources[id]!.Properties.SqsManagedSseEnabled, true, id);
	});

	it("alarms for what needs a person, all to one SNS topic: DLQ and failed events above zero, every function's errors and throttles, every rule's action failures, refused registrations above a rate", () => {
		const alarms = ofType('AWS::CloudWatch::Alarm');
		assert.equal(ofType('AWS::SNS::Topic').length, 1);
		for (const [id, a] of alarms) {
			assert.deepEqual(a.Properties.AlarmActions, [{ Ref: 'OpsAlarmTopic' }], id);
			assert.equal(a.Properties.TreatMissingData, 'notBreaching', id);
		}
		const alarm = (id: string) => resources[id]!.Properties;
		for (const [id, queue] of [
			['RegistrationDlqAlarm', 'RegistrationDlq'],
			['FailedEventsAlarm', 'FailedEventsQueue'],
		] as const) {
			assert.equal(alarm(id).MetricName, 'ApproximateNumberOfMessagesVisible');
			assert.deepEqual((alarm(id).Dimensions as Obj[])[0]!.Value, { 'Fn::GetAtt': [queue, 'QueueName'] });
			assert.equal(alarm(id).Threshold, 0);
		}
		// a function or rule added without its alarm fails here
		const inMath = (id: string) => new Set((alarm(id).Metrics as Obj[]).flatMap((m) => (m.MetricStat ? [text((((m.MetricStat as Obj).Metric as Obj).Dimensions as Obj[])[0]!.Value as Json)] : [])));
		// CloudWatch takes at most 10 metrics in an alarm: the functions' errors (throttles) may span LambdaErrorsAlarm, LambdaErrorsAlarm2, ...
		const inAlarms = (prefix: string) => alarms.filter(([id]) => new RegExp('^' + prefix + '\\d*$').test(id)).flatMap(([id]) => [...inMath(id)]);
		const fnRefs = functions.map(([id]) => 'Ref:' + id).sort();
		assert.deepEqual(inAlarms('LambdaErrorsAlarm').sort(), fnRefs);
		assert.deepEqual(inAlarms('LambdaThrottlesAlarm').sort(), fnRefs);
		for (const [id, a] of alarms) if (a.Properties.Metrics) assert.ok((a.Properties.Metrics as Obj[]).length <= 10, id + ': CloudWatch takes at most 10 metrics in an alarm');
		const ruleNames = ofType('AWS::IoT::TopicRule')
			.map(([, r]) => r.Properties.RuleName as string)
			.sort();
		assert.deepEqual([...inMath('RuleActionFailuresAlarm')].sort(), ruleNames);
		assert.ok((alarm('LambdaErrorsAlarm').Metrics as Obj[]).length <= 10, 'CloudWatch takes at most 10 metrics in an alarm');
		const refused = alarm('RegistrationsRefusedAlarm');
		assert.equal(refused.Namespace, NAMESPACE);
		assert.ok((METRICS as readonly string[]).includes(refused.MetricName as string));
		assert.deepEqual(refused.Threshold, { Ref: 'RegistrationsRefusedPer5Min' });
		// the dashboard draws metrics the handlers emit
		const body = text(resources.OpsDashboard!.Properties.DashboardBody as Json);
		for (const name of body.match(/"RobotConnectivity", "(\w+)"/g) ?? []) assert.ok((METRICS as readonly string[]).includes(name.split('"')[3]!), name);
		assert.match(body, /ReportsStored/);
		for (const status of ['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT']) assert.ok(body.includes('"' + status + '"'), 'command executions ' + status + ' on the dashboard');
		assert.match(body, /"RobotConnectivity", "CommandExecutions", "Service", "commands", "Status"/);
	});

	it('the maps bucket: encrypted, no public access, TLS only, object-created notification on the upload keys', () => {
		const b = resources.MapsBucket!.Properties;
		assert.deepEqual(b.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
		assert.ok((b.BucketEncryption as Obj).ServerSideEncryptionConfiguration);
		const deny = ((resources.MapsBucketPolicy!.Properties.PolicyDocument as Obj).Statement as unknown as Statement[])[0]!;
		assert.equal(deny.Effect, 'Deny');
		assert.deepEqual(deny.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
		const s3 = ((resources.MapIngestFunction!.Properties.Events as Obj).MapUploaded as Obj).Properties as Obj;
		assert.deepEqual(s3.Bucket, { Ref: 'MapsBucket' });
		const rules = ((s3.Filter as Obj).S3Key as Obj).Rules as Obj[];
		const key = uploadKey('robot-1', 'm-1');
		const prefix = rules.find((r) => r.Name === 'prefix')!.Value as string;
		const suffix = rules.find((r) => r.Name === 'suffix')!.Value as string;
		assert.ok(key.startsWith(prefix) && key.endsWith(suffix), key);
		assert.ok(!'decoded/robot-1/m-1.map'.startsWith(prefix), 'the decoded maps do not trigger the ingest');
	});

	it('passes cfn-lint (the npm package, its 2019 specification brought up to date in cloud/lint/spec-patch.ts)', function () {
		this.timeout(60_000);
		const findings = lintTemplate(TEMPLATE);
		assert.deepEqual(
			findings.filter((f) => f.level === 'crit'),
			[],
		);
	});

	// the linter is only worth running if it still refuses what is wrong, also in what the patch added
	const MUTATIONS: readonly [string, (t: string) => string, RegExp][] = [
		['a Ref to nothing', (t) => t.replace('ApiId: !Ref RegistrationApi', 'ApiId: !Ref RegistrationApy'), /RegistrationApy/],
		['a GetAtt of a missing attribute', (t) => t.replace('!GetAtt FailedEventsQueue.Arn', '!GetAtt FailedEventsQueue.Urn'), /Urn/],
		['an unknown property on a patched type', (t) => t.replace('SqsManagedSseEnabled: true', 'SqsManagedSseEnable: true'), /SqsManagedSseEnable/],
		['an unknown property in an HTTP API', (t) => t.replace('ThrottlingBurstLimit: 200', 'ThrottlingBurstLimits: 200'), /ThrottlingBurstLimits/],
		['a wrong type in a patched property', (t) => t.replace('MaximumConcurrency: 5', 'MaximumConcurrency: five'), /five|MaximumConcurrency/],
	];
	for (const [what, mutate, expected] of MUTATIONS) {
		it(`cfn-lint refuses ${what}`, function () {
			this.timeout(60_000);
			const original = readFileSync(TEMPLATE, 'utf8');
			const mutated = mutate(original);
			assert.notEqual(mutated, original, 'the mutation applies');
			const dir = mkdtempSync(path.join(tmpdir(), 'cfn-'));
			try {
				const file = path.join(dir, 'template.yaml');
				writeFileSync(file, mutated);
				const crit = lintTemplate(file).filter((f) => f.level === 'crit');
				assert.ok(
					crit.some((f) => expected.test(f.message + ' ' + f.resource)),
					JSON.stringify(crit),
				);
			} finally {
				rmSync(dir, { recursive: true, force: true });
			}
		});
	}
});
