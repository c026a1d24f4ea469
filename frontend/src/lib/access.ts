/**
 * An observer's read-only link is the lab's page with `?observe=TOKEN`; the server knows the
 * observer by that parameter on every request (there is no cookie for it), so the lab page
 * adds it to each of its own URLs.
 */
export const OBSERVE_PARAM = "observe";

export function observeToken(search: string = typeof location === "undefined" ? "" : location.search): string | null {
  return new URLSearchParams(search).get(OBSERVE_PARAM) || null;
}

/** `url` with the observer's token added, when this page was opened with one. */
export function withAccess(url: string, token: string | null = observeToken()): string {
  if (!token) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${OBSERVE_PARAM}=${encodeURIComponent(token)}`;
}
