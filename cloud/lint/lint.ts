/*
 * cloud/template.yaml through the npm CloudFormation linter (`cfn-lint` 1.9.7): template
 * structure, every Ref/GetAtt/Sub target, property names and types, required properties,
 * SAM globals and event sources. The package's specification dates from 2019, so the
 * properties added since that the template uses are declared in ./spec-patch.ts first.
 *
 *   npm run lint:cloud [-- template.yaml]      exit 1 on any critical finding
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CFN_PATCH, SAM_EVENT_VARIANTS, SAM_GLOBALS_PATCH, SAM_PATCH } from './spec-patch';

const require = createRequire(import.meta.url);

export interface LintFinding {
	readonly level: 'crit' | 'warn' | 'info';
	readonly message: string;
	readonly resource: string;
}

type Spec = { ResourceTypes: Record<string, unknown>; PropertyTypes: Record<string, unknown> };

/** Deep merge of plain objects; arrays and scalars of `from` replace. */
function merge(into: Record<string, unknown>, from: Record<string, unknown>): void {
	for (const [k, v] of Object.entries(from)) {
		const old = into[k];
		if (v && typeof v === 'object' && !Array.isArray(v) && old && typeof old === 'object' && !Array.isArray(old)) merge(old as Record<string, unknown>, v as Record<string, unknown>);
		else into[k] = v;
	}
}

let patched = false;
function patchLinter(): void {
	if (patched) return;
	patched = true;
	const aws = require('cfn-lint/lib/awsData') as { awsResources: Spec };
	const sam = require('cfn-lint/lib/samData') as { samResources20161031: Spec; samGlobals20161031: { AllowedProperties: Record<string, string[]> } };
	merge(aws.awsResources as unknown as Record<string, unknown>, CFN_PATCH);
	merge(sam.samResources20161031 as unknown as Record<string, unknown>, SAM_PATCH);
	for (const [kind, names] of Object.entries(SAM_GLOBALS_PATCH)) sam.samGlobals20161031.AllowedProperties[kind]!.push(...names);
	const source = sam.samResources20161031.PropertyTypes['AWS::Serverless::Function.EventSource'] as { Properties: { Properties: { Type: string[] } } };
	source.Properties.Properties.Type.push(...SAM_EVENT_VARIANTS);
}

/** Lints a template file; findings of every level, critical ones first. */
export function lintTemplate(file: string): LintFinding[] {
	patchLinter();
	const validator = require('cfn-lint/lib/validator') as {
		resetValidator(): void;
		validateFile(f: string, o?: object): { errors: Record<'crit' | 'warn' | 'info', { message: string; resource: string }[]> };
	};
	validator.resetValidator();
	const result = validator.validateFile(file, { guessParameters: undefined });
	return (['crit', 'warn', 'info'] as const).flatMap((level) => result.errors[level].map((e) => ({ level, message: e.message, resource: e.resource })));
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
	const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
	const file = path.resolve(process.argv[2] ?? path.join(root, 'cloud', 'template.yaml'));
	const findings = lintTemplate(file);
	for (const f of findings) console.log(JSON.stringify(f));
	const crit = findings.filter((f) => f.level === 'crit').length;
	console.log(`cfn-lint ${path.relative(process.cwd(), file)}: ${crit} critical, ${findings.length - crit} other`);
	process.exitCode = crit ? 1 : 0;
}
