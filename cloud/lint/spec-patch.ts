/*
 * What CloudFormation and SAM gained after the npm `cfn-lint` (1.9.7, 2019) froze its
 * specification, and that cloud/template.yaml uses. Each entry is the documented shape of
 * the property (CloudFormation resource reference / SAM specification), so the linter checks
 * these properties' types and nesting instead of refusing them as unknown. Nothing here
 * relaxes a check: a property not listed is still an error.
 */

const prop = (o: Record<string, unknown>) => ({ Documentation: '', Required: false, UpdateType: 'Mutable', ...o });
const str = prop({ PrimitiveType: 'String' });
const int = prop({ PrimitiveType: 'Integer' });
const bool = prop({ PrimitiveType: 'Boolean' });
const strings = prop({ Type: 'List', PrimitiveItemType: 'String' });
const type = (name: string) => prop({ Type: name });

/** Merged into the CloudFormation resource specification (`extendSpecification`). */
export const CFN_PATCH = {
	ResourceTypes: {
		// KMS asymmetric keys (2019-11): the map key is a symmetric SYMMETRIC_DEFAULT key, said explicitly
		'AWS::KMS::Key': { Properties: { KeySpec: str, MultiRegion: bool } },
		// S3 Object Ownership (2020-12): BucketOwnerEnforced turns ACLs off
		'AWS::S3::Bucket': { Properties: { OwnershipControls: type('OwnershipControls') } },
		// Kinesis on-demand capacity (2021-11): ShardCount became optional
		'AWS::Kinesis::Stream': { Properties: { ShardCount: int, StreamModeDetails: type('StreamModeDetails') } },
		// SQS managed server-side encryption (2021-11)
		'AWS::SQS::Queue': { Properties: { SqsManagedSseEnabled: bool } },
		// AWS IoT Device Management commands (2024-11; dynamic payload templates 2025)
		'AWS::IoT::Command': {
			Documentation: '',
			AdditionalProperties: false,
			Attributes: { CommandArn: { PrimitiveType: 'String' } },
			Properties: {
				CommandId: prop({ Required: true, PrimitiveType: 'String' }),
				Namespace: str,
				DisplayName: str,
				Description: str,
				PayloadTemplate: str,
				Preprocessor: type('CommandPreprocessor'),
				MandatoryParameters: prop({ Type: 'List', ItemType: 'CommandParameter' }),
				Payload: type('CommandPayload'),
				RoleArn: str,
				Tags: prop({ Type: 'List', ItemType: 'Tag' }),
			},
		},
	},
	PropertyTypes: {
		'AWS::S3::Bucket.OwnershipControls': { Documentation: '', Properties: { Rules: prop({ Required: true, Type: 'List', ItemType: 'OwnershipControlsRule' }) } },
		'AWS::S3::Bucket.OwnershipControlsRule': { Documentation: '', Properties: { ObjectOwnership: str } },
		'AWS::Kinesis::Stream.StreamModeDetails': { Documentation: '', Properties: { StreamMode: prop({ Required: true, PrimitiveType: 'String' }) } },
		'AWS::IoT::Command.CommandPreprocessor': { Documentation: '', Properties: { AwsJsonSubstitution: type('AwsJsonSubstitutionCommandPreprocessorConfig') } },
		'AWS::IoT::Command.AwsJsonSubstitutionCommandPreprocessorConfig': { Documentation: '', Properties: { OutputFormat: prop({ Required: true, PrimitiveType: 'String' }) } },
		'AWS::IoT::Command.CommandParameter': {
			Documentation: '',
			Properties: { Name: prop({ Required: true, PrimitiveType: 'String' }), Description: str, DefaultValue: type('CommandParameterValue'), Value: type('CommandParameterValue') },
		},
		'AWS::IoT::Command.CommandParameterValue': { Documentation: '', Properties: { S: str, B: bool, I: int, L: str, D: prop({ PrimitiveType: 'Double' }), BIN: str, UL: str } },
		'AWS::IoT::Command.CommandPayload': { Documentation: '', Properties: { Content: str, ContentType: str } },
		'AWS::IoT::Command.Tag': {
			Documentation: '',
			Properties: { Key: prop({ Required: true, PrimitiveType: 'String' }), Value: prop({ Required: true, PrimitiveType: 'String' }) },
		},
	},
};

/** Merged into the SAM (AWS::Serverless-2016-10-31) specification. */
export const SAM_PATCH = {
	ResourceTypes: {
		'AWS::Serverless::Function': {
			Properties: {
				// Graviton functions (2021-09)
				Architectures: strings,
				// asynchronous invocation: retries and the on-failure destination (2019-11)
				EventInvokeConfig: type('EventInvokeConfiguration'),
			},
		},
		// API Gateway HTTP APIs (2020-03)
		'AWS::Serverless::HttpApi': {
			Documentation: '',
			AdditionalProperties: false,
			Attributes: {},
			Properties: {
				StageName: str,
				DefaultRouteSettings: type('RouteSettings'),
				AccessLogSettings: type('AccessLogSettings'),
				Description: str,
				DisableExecuteApiEndpoint: bool,
				FailOnWarnings: bool,
				Tags: prop({ Type: 'Map', PrimitiveItemType: 'String' }),
				// JWT authorizers (2020-03): the owners' API takes Cognito ID tokens
				Auth: type('HttpApiAuth'),
			},
		},
	},
	PropertyTypes: {
		'AWS::Serverless::Function.EventInvokeConfiguration': {
			Documentation: '',
			Properties: { MaximumEventAgeInSeconds: int, MaximumRetryAttempts: int, DestinationConfig: type('EventInvokeDestinationConfiguration') },
		},
		'AWS::Serverless::Function.EventInvokeDestinationConfiguration': {
			Documentation: '',
			Properties: { OnSuccess: type('OnDestination'), OnFailure: type('OnDestination') },
		},
		'AWS::Serverless::Function.OnDestination': { Documentation: '', Properties: { Type: prop({ Required: true, PrimitiveType: 'String' }), Destination: str } },
		'AWS::Serverless::Function.HttpApiEvent': {
			Documentation: '',
			Properties: {
				ApiId: prop({ Required: true, PrimitiveType: 'String' }),
				Method: str,
				Path: str,
				PayloadFormatVersion: str,
				TimeoutInMillis: int,
				RouteSettings: type('RouteSettings'),
			},
		},
		// SQS event source: batching window (2020-11), partial batch responses (2021-11), maximum concurrency (2023-01)
		'AWS::Serverless::Function.SQSEvent': {
			Properties: { MaximumBatchingWindowInSeconds: int, FunctionResponseTypes: strings, ScalingConfig: type('ScalingConfig'), Enabled: bool },
		},
		// the 2019 data types S3Key as Json and then refuses the Rules list SAM documents
		'AWS::Serverless::Function.S3NotificationFilter': { Properties: { S3Key: prop({ Required: true, Type: 'S3KeyFilter' }) } },
		'AWS::Serverless::Function.S3KeyFilter': { Documentation: '', Properties: { Rules: prop({ Required: true, Type: 'List', ItemType: 'S3KeyFilterRule' }) } },
		'AWS::Serverless::Function.S3KeyFilterRule': {
			Documentation: '',
			Properties: { Name: prop({ Required: true, PrimitiveType: 'String' }), Value: prop({ Required: true, PrimitiveType: 'String' }) },
		},
		'AWS::Serverless::Function.ScalingConfig': { Documentation: '', Properties: { MaximumConcurrency: int } },
		'AWS::Serverless::HttpApi.RouteSettings': {
			Documentation: '',
			Properties: { ThrottlingBurstLimit: int, ThrottlingRateLimit: prop({ PrimitiveType: 'Double' }), DetailedMetricsEnabled: bool },
		},
		'AWS::Serverless::HttpApi.AccessLogSettings': { Documentation: '', Properties: { DestinationArn: str, Format: str } },
		'AWS::Serverless::HttpApi.HttpApiAuth': {
			Documentation: '',
			Properties: { DefaultAuthorizer: str, Authorizers: prop({ Type: 'Map', ItemType: 'HttpApiAuthorizer' }), EnableIamAuthorizer: bool },
		},
		'AWS::Serverless::HttpApi.HttpApiAuthorizer': {
			Documentation: '',
			Properties: { IdentitySource: str, JwtConfiguration: type('JwtConfiguration'), AuthorizationScopes: strings },
		},
		'AWS::Serverless::HttpApi.JwtConfiguration': { Documentation: '', Properties: { issuer: str, audience: strings } },
		'AWS::Serverless::Function.RouteSettings': {
			Documentation: '',
			Properties: { ThrottlingBurstLimit: int, ThrottlingRateLimit: prop({ PrimitiveType: 'Double' }), DetailedMetricsEnabled: bool },
		},
	},
};

/** SAM Globals keys added since (Architectures, 2021-09). */
export const SAM_GLOBALS_PATCH: Record<string, readonly string[]> = {
	Function: ['Architectures', 'EventInvokeConfig'],
};

/** The event source variants the linter infers between, plus HttpApi. */
export const SAM_EVENT_VARIANTS = ['EventSource#Properties<HttpApiEvent>'];
