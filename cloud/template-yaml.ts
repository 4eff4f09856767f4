// cloud/template.yaml read as data, for the tests that check it against the code.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const TEMPLATE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'template.yaml');

/** CloudFormation's short forms as plain objects: `!Ref X` is `{ Ref: 'X' }`, `!Sub s` is `{ 'Fn::Sub': s }`, ... */
const INTRINSICS = ['Ref', 'Sub', 'GetAtt', 'Join', 'Select', 'Split', 'If', 'Equals', 'Not', 'And', 'Or', 'FindInMap', 'ImportValue', 'Base64', 'GetAZs', 'Cidr', 'Condition'];
export const SCHEMA = yaml.DEFAULT_SCHEMA.extend(
	INTRINSICS.flatMap((name) => {
		const key = name === 'Ref' || name === 'Condition' ? name : 'Fn::' + name;
		const construct = (data: unknown) => ({ [key]: name === 'GetAtt' && typeof data === 'string' ? data.split('.') : data });
		return (['scalar', 'sequence', 'mapping'] as const).map((kind) => new yaml.Type('!' + name, { kind, construct }));
	}),
);

/** The template (or another file in its form) as a plain object. */
export function loadTemplate(file = TEMPLATE): Record<string, unknown> {
	return yaml.load(readFileSync(file, 'utf8'), { schema: SCHEMA }) as Record<string, unknown>;
}
