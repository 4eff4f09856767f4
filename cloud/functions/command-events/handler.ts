/*
 * CommandEventsFunction: command executions by status as a CloudWatch metric (issue 25). AWS IoT
 * publishes a command execution event on `$aws/events/commandExecution/<commandId>/<status>` at
 * each status change (developer guide, "Command execution events"; enabled with
 * UpdateEventConfigurations COMMAND_EXECUTION, which CloudFormation has no resource for: a
 * deploy step). The rule command_events hands each event here, and it counts one
 * CommandExecutions{Service=commands, Status=<status>} in the Embedded Metric Format. The local
 * cloud's commands runner publishes the same events (cloud/local/commands/runner.ts).
 *
 * An event that is not AWS's shape is logged and not counted (retrying cannot fix it).
 */
import { invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { functionLogger, lambdaEntry, type Env } from '../../lib/lambda-env';
import { countMetric } from '../../lib/metrics';

export const FUNCTION_NAME = 'CommandEventsFunction';
export const RULE_NAME = 'command_events';
export const COMMAND_EVENTS_SQL = "SELECT * FROM '$aws/events/commandExecution/+/+'";
/** The statuses AWS IoT's command executions go through (API reference, CommandExecutionStatus). */
export const COMMAND_STATUSES: readonly string[] = Object.freeze(['CREATED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT']);

export type CommandEventOutcome = { readonly status: 'counted'; readonly executionStatus: string } | { readonly status: 'refused'; readonly reason: string };
export type CommandEventsHandler = (event: unknown, context: InvocationContext) => Promise<CommandEventOutcome>;

export function createCommandEventsHandler(deps: { logger: Logger }): CommandEventsHandler {
	if (typeof deps?.logger?.info !== 'function') throw new TypeError('"logger" expected a Logger');
	return async (event, context) => {
		const log = invocationLogger(deps.logger, context);
		const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
		const status = e.status;
		if (e.eventType !== 'COMMAND_EXECUTION' || typeof status !== 'string' || !COMMAND_STATUSES.includes(status) || typeof e.executionId !== 'string') {
			const reason = 'expected a COMMAND_EXECUTION event with an executionId and one of ' + COMMAND_STATUSES.join(', ') + ', got status ' + JSON.stringify(status);
			log.warn('command_events.refused', { reason });
			return { status: 'refused', reason };
		}
		countMetric(log, 'commands', 'CommandExecutions', 1, { Status: status });
		return { status: 'counted', executionStatus: status };
	};
}

/** The Lambda entry's wiring: nothing but the log level. */
export function fromEnv(env: Env): CommandEventsHandler {
	return createCommandEventsHandler({ logger: functionLogger(env, 'command-events') });
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: CommandEventsHandler = lambdaEntry(fromEnv);
