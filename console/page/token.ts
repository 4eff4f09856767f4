/*
 * The console's per-start session token: `npm start` prints the console's URL with it in the
 * fragment (`#token=...`, never sent to the server by the browser, nor in a Referer), and the
 * page sends it with every API call (header) and on the event stream (EventSource cannot set
 * a header, so there it is a query parameter). Another local process or page without it gets 401.
 */
export const TOKEN_HEADER = 'x-console-token';

const KEPT = 'console-token';
const given = new URLSearchParams(location.hash.slice(1)).get('token');
// kept for this tab only (sessionStorage): back from the owner's view (/owner/ links to /) the
// operator's view still has it; a new tab or window needs the printed URL again
if (given) sessionStorage.setItem(KEPT, given);

/** The token the page was opened with (or earlier in this tab); empty when none (every API call is then refused). */
export const token: string = given ?? sessionStorage.getItem(KEPT) ?? '';

export const tokenHeaders = (): Record<string, string> => ({ [TOKEN_HEADER]: token });

/** The event stream's URL with the token. */
export const liveUrl = (): string => '/api/live?token=' + encodeURIComponent(token);
