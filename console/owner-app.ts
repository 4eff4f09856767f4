/*
 * The console's owner view (console/page/owner): one page that signs in to the local user pool
 * and then calls only the owner API with the owner's token, as a phone app would. The console
 * server (console/server.ts) serves it under /owner/ beside the operator's view, with the same
 * Host check and security headers; it never sees the operator's session token and the console's
 * /api/ is not its path. What it is handed is public: the API and sign-in endpoints and the app
 * client id. The rooms it offers are the robot's own (GET /robots/{thing} -> rooms).
 *
 *   GET /owner/             the page
 *   GET /owner/app.js       its bundle
 *   GET /owner/config.json  { api, auth, clientId }
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePage } from './bundle';
import type { LocalCloud } from '../cloud/local/index';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where the console serves the owner's view. */
export const OWNER_PATH = '/owner/';

export interface OwnerView {
	readonly html: string;
	readonly js: string;
	/** config.json's text. */
	readonly config: string;
}

/** The owner's page, its bundle and its public configuration for this local cloud. */
export async function loadOwnerView(cloud: LocalCloud): Promise<OwnerView> {
	const [html, js] = await Promise.all([readFile(path.join(here, 'page', 'owner', 'index.html'), 'utf8'), bundlePage('owner/main.ts')]);
	return { html, js, config: JSON.stringify({ api: cloud.endpoints.ownerApi, auth: cloud.endpoints.ownerAuth, clientId: cloud.owners.auth.clientId }) };
}

/** The console's origins may call the owner API, sign in and fetch map URLs (CORS). */
export function allowOwnerView(cloud: LocalCloud, port: number): void {
	cloud.owners.allowOrigin('http://127.0.0.1:' + port);
	cloud.owners.allowOrigin('http://localhost:' + port);
}
