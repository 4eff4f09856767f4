/*
 * The console's per-start session token: `npm start` prints the console's URL with it in the
 * fragment (`#token=...`, never sent to the server by the browser, nor in a Referer), and the
 * page sends it with every API call (header) and on the event stream (EventSource cannot set
 * a header, so there it is a query parameter). Another local process or page without it gets 401.
 */
export const TOKEN_HEADER = 'x-console-token';

/** The token the page was opened with; empty when the URL carried none (every API call is then refused). */
export const token: string = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';

export const tokenHeaders = (): Record<string, string> => ({ [TOKEN_HEADER]: token });

/** The event stream's URL with the token. */
export const liveUrl = (): string => '/api/live?token=' + encodeURIComponent(token);
